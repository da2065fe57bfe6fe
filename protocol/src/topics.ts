/**
 * MQTT topics of the fleet (SPEC.md §1.7). Builders refuse ids that could widen a
 * topic (`+`, `#`, `/`) so an ACL written for one device can never match another.
 */
import { ProtocolError } from './errors.ts';
import { isDeviceId, isToken } from './messages/formats.ts';

export const TOPIC_ROOT = 'kiln/v1';

function deviceSegment(deviceId: string): string {
  if (!isDeviceId(deviceId)) {
    throw new ProtocolError(
      'BAD_DEVICE_ID',
      `"${deviceId}" is not a device id (3..64 of a-z 0-9 - _, starting with a letter or digit)`,
    );
  }
  return deviceId;
}

export const topics = {
  telemetry: (deviceId: string) => `${TOPIC_ROOT}/${deviceSegment(deviceId)}/telemetry`,
  status: (deviceId: string) => `${TOPIC_ROOT}/${deviceSegment(deviceId)}/status`,
  command: (deviceId: string) => `${TOPIC_ROOT}/${deviceSegment(deviceId)}/cmd`,
  config: (deviceId: string) => `${TOPIC_ROOT}/${deviceSegment(deviceId)}/config`,
  key: (deviceId: string) => `${TOPIC_ROOT}/${deviceSegment(deviceId)}/key`,
  commandResult: (deviceId: string, commandId: string) => {
    if (!isToken(commandId))
      throw new ProtocolError('BAD_COMMAND_ID', `"${commandId}" is not a command id (1..64 of A-Z a-z 0-9 - _)`);
    return `${TOPIC_ROOT}/${deviceSegment(deviceId)}/cmd/${commandId}/result`;
  },
};

export type ParsedTopic =
  | { kind: 'telemetry' | 'status' | 'command' | 'config' | 'key'; deviceId: string }
  | { kind: 'commandResult'; deviceId: string; commandId: string };

/** Parses a concrete topic (no wildcards); undefined when it is not one of Kiln's. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== 'kiln' || parts[1] !== 'v1') return undefined;
  const deviceId = parts[2];
  if (deviceId === undefined || !isDeviceId(deviceId)) return undefined;
  const rest = parts.slice(3).join('/');
  if (rest === 'telemetry') return { kind: 'telemetry', deviceId };
  if (rest === 'status') return { kind: 'status', deviceId };
  if (rest === 'cmd') return { kind: 'command', deviceId };
  if (rest === 'config') return { kind: 'config', deviceId };
  if (rest === 'key') return { kind: 'key', deviceId };
  if (parts.length === 6 && parts[3] === 'cmd' && parts[5] === 'result') {
    const commandId = parts[4] as string;
    if (isToken(commandId)) return { kind: 'commandResult', deviceId, commandId };
  }
  return undefined;
}

/** Whether an MQTT topic filter stays inside one device's subtree (for ACLs on subscriptions). */
export function filterStaysWithinDevice(filter: string, deviceId: string): boolean {
  const prefix = `${TOPIC_ROOT}/${deviceSegment(deviceId)}/`;
  return filter.startsWith(prefix);
}
