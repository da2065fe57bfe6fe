/** The kiln.v1 messages (SPEC.md §1.3), as data. Change them here and regenerate the C table. */
import { CHIPS } from '../chips.ts';
import { LIMITS } from '../limits.ts';
import { arr, type FieldSpec, int, type MessageSchema, obj, oneOf, opt, req, str } from './spec.ts';

export const U32_MAX = 0xffff_ffff;
/** Milliseconds since the epoch (or since boot): any integer a double holds exactly. */
const ms = int(0, Number.MAX_SAFE_INTEGER);
const u32 = int(0, U32_MAX);
const seq = req('seq', u32);
const metrics: FieldSpec = {
  kind: 'map',
  min: 1,
  max: LIMITS.metricsPerSample,
  key: { min: 1, max: 32, format: 'metricName' },
  values: { kind: 'number' },
};
const freeObject: FieldSpec = { kind: 'freeObject' };

export const ERROR_CODES = ['BAD_MESSAGE', 'RATE_LIMITED', 'TOO_LARGE', 'UNSUPPORTED', 'INTERNAL'] as const;
export const COMMAND_STATUSES = ['ok', 'error', 'unsupported', 'expired'] as const;

export const MESSAGE_SCHEMAS = [
  {
    type: 'hello',
    from: 'device',
    fields: [
      seq,
      req('deviceId', str(3, 64, 'deviceId')),
      req('bootId', str(8, 32, 'hex')),
      req('firmware', obj(req('name', str(1, 31, 'text')), req('version', str(1, 31, 'text')))),
      req('chip', oneOf(CHIPS)),
      req('mac', str(17, 17, 'mac')),
    ],
  },
  {
    type: 'welcome',
    from: 'gateway',
    fields: [
      seq,
      req('serverTime', ms),
      req('heartbeatSec', int(5, 3600)),
      req('telemetrySec', int(1, 86400)),
      req('maxBatch', int(1, LIMITS.samplesPerBatch)),
    ],
  },
  { type: 'telemetry', from: 'device', fields: [seq, req('ts', ms), req('metrics', metrics)] },
  {
    type: 'telemetry_batch',
    from: 'device',
    fields: [
      seq,
      req('samples', arr(1, LIMITS.samplesPerBatch, obj(req('seq', u32), req('ts', ms), req('metrics', metrics)))),
    ],
  },
  { type: 'ack', from: 'gateway', fields: [seq, req('acked', arr(1, LIMITS.acksPerMessage, u32))] },
  {
    type: 'command',
    from: 'gateway',
    fields: [
      seq,
      req('id', str(1, 64, 'token')),
      req('name', str(1, 32, 'metricName')),
      opt('args', freeObject),
      opt('expiresAt', ms),
    ],
  },
  {
    type: 'command_result',
    from: 'device',
    fields: [
      seq,
      req('id', str(1, 64, 'token')),
      req('status', oneOf(COMMAND_STATUSES)),
      opt('result', freeObject),
      opt('error', str(0, 128, 'text')),
    ],
  },
  { type: 'heartbeat', from: 'both', fields: [seq, opt('uptimeMs', ms)] },
  {
    type: 'config',
    from: 'gateway',
    fields: [seq, opt('telemetrySec', int(1, 86400)), opt('heartbeatSec', int(5, 3600))],
  },
  {
    type: 'error',
    from: 'both',
    fields: [seq, req('code', oneOf(ERROR_CODES)), req('message', str(0, 200, 'text')), opt('ref', u32)],
  },
] as const satisfies readonly MessageSchema[];

export type MessageType = (typeof MESSAGE_SCHEMAS)[number]['type'];
