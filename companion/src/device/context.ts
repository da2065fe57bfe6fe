/** What the device endpoint's handlers share: one object, built by gateway.ts. */
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Bridge } from '../mqtt/bridge.ts';
import type { Store } from '../store/index.ts';
import type { CommandService } from './commands.ts';
import type { Ingest } from './ingest.ts';
import type { SessionRegistry } from './sessions.ts';

export interface HubContext {
  config: GatewayConfig;
  store: Store;
  metrics: GatewayMetrics;
  log: Logger;
  sessions: SessionRegistry;
  ingest: Ingest;
  commands: CommandService;
  bridge: Bridge;
}
