/** TypeScript shapes of the kiln.v1 messages in schemas.ts (SPEC.md §1.3). */
import type { Chip } from '../chips.ts';

interface Base {
  seq: number;
}
export type Metrics = Record<string, number>;

export interface Hello extends Base {
  type: 'hello';
  deviceId: string;
  bootId: string;
  firmware: { name: string; version: string };
  chip: Chip;
  mac: string;
}
export interface Welcome extends Base {
  type: 'welcome';
  serverTime: number;
  heartbeatSec: number;
  telemetrySec: number;
  maxBatch: number;
}
export interface Telemetry extends Base {
  type: 'telemetry';
  ts: number;
  metrics: Metrics;
}
export interface TelemetrySample {
  seq: number;
  ts: number;
  metrics: Metrics;
}
export interface TelemetryBatch extends Base {
  type: 'telemetry_batch';
  samples: TelemetrySample[];
}
export interface Ack extends Base {
  type: 'ack';
  acked: number[];
}
export interface Command extends Base {
  type: 'command';
  id: string;
  name: string;
  args?: Record<string, unknown>;
  expiresAt?: number;
}
export interface CommandResult extends Base {
  type: 'command_result';
  id: string;
  status: 'ok' | 'error' | 'unsupported' | 'expired';
  result?: Record<string, unknown>;
  error?: string;
}
export interface Heartbeat extends Base {
  type: 'heartbeat';
  uptimeMs?: number;
}
export interface Config extends Base {
  type: 'config';
  telemetrySec?: number;
  heartbeatSec?: number;
}
export interface ErrorMessage extends Base {
  type: 'error';
  code: 'BAD_MESSAGE' | 'RATE_LIMITED' | 'TOO_LARGE' | 'UNSUPPORTED' | 'INTERNAL';
  message: string;
  ref?: number;
}

export type DeviceMessage = Hello | Telemetry | TelemetryBatch | CommandResult | Heartbeat | ErrorMessage;
export type GatewayMessage = Welcome | Ack | Command | Heartbeat | Config | ErrorMessage;
export type Message = DeviceMessage | GatewayMessage;
