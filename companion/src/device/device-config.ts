/**
 * Per-device telemetry and heartbeat intervals (SPEC §4.4): what a device is told in `welcome`
 * and, when an operator changes them while it is connected, in a `config` message.
 */
import type { GatewayConfig } from '../config.ts';
import type { DeviceConfig } from '../store/devices.ts';
import type { SessionRegistry } from './sessions.ts';

export interface EffectiveConfig {
  telemetrySec: number;
  heartbeatSec: number;
}

/** The device's own values where it has them, the gateway's defaults elsewhere. */
export function effectiveConfig(
  own: DeviceConfig | undefined,
  defaults: Pick<GatewayConfig['limits'], 'telemetrySec' | 'heartbeatSec'>,
): EffectiveConfig {
  return {
    telemetrySec: own?.telemetrySec ?? defaults.telemetrySec,
    heartbeatSec: own?.heartbeatSec ?? defaults.heartbeatSec,
  };
}

/**
 * Sends `config` on the device's session in this instance, through its bounded send path.
 * False when there is none (offline, before its hello, or connected to another instance: the
 * next welcome carries the values then) or the send failed (the session is closing).
 */
export function sendConfig(sessions: SessionRegistry, deviceId: string, cfg: EffectiveConfig): boolean {
  const session = sessions.get(deviceId);
  if (!session?.online) return false;
  return session.send({ type: 'config', telemetrySec: cfg.telemetrySec, heartbeatSec: cfg.heartbeatSec });
}
