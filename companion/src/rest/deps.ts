/** What the REST routes use. */
import type { GatewayConfig } from '../config.ts';
import type { DeviceAuthenticator } from '../device/auth.ts';
import type { CommandService } from '../device/commands.ts';
import type { SessionRegistry } from '../device/sessions.ts';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Bridge } from '../mqtt/bridge.ts';
import type { OperatorAuth } from '../operator/auth.ts';
import type { Store } from '../store/index.ts';

export interface RestDeps {
  config: GatewayConfig;
  store: Store;
  metrics: GatewayMetrics;
  log: Logger;
  sessions: SessionRegistry;
  commands: CommandService;
  deviceAuth: DeviceAuthenticator;
  bridge: Bridge;
  /** Operator auth: bearer keys, browser sessions, allowed origins. */
  operator: OperatorAuth;
}
