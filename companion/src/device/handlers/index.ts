/**
 * The one dispatcher for inbound kiln.v1 frames (aedes-style: one handler per message
 * type). Order: rate windows, validation (SPEC §1.5, from 'device'), hello first, then
 * the handler. Every refusal is a documented `error` message or a documented close code.
 */
import { CloseCode, formatValidationError, validateMessage } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import type { Session } from '../session.ts';
import { handleCommandResult } from './command-result.ts';
import { handleDeviceError } from './error.ts';
import { handleHeartbeat } from './heartbeat.ts';
import { handleHello } from './hello.ts';
import { handleTelemetry, handleTelemetryBatch } from './telemetry.ts';

export function dispatch(ctx: HubContext, session: Session, data: Buffer, isBinary: boolean): void {
  if (session.closed) return;
  const verdict = session.admit(data.length);
  if (verdict === 'abusive') {
    ctx.metrics.queueDrops.inc({ queue: 'rate' });
    session.close(CloseCode.POLICY_VIOLATION, 'message rate limit');
    return;
  }
  if (verdict === 'limited') {
    ctx.metrics.queueDrops.inc({ queue: 'rate' });
    session.send({ type: 'error', code: 'RATE_LIMITED', message: 'message or byte rate over the limit; slow down' });
    return;
  }
  if (isBinary) {
    session.send({ type: 'error', code: 'BAD_MESSAGE', message: 'kiln.v1 messages are text frames' });
    return;
  }
  const v = validateMessage(data, 'device');
  if (!v.ok) {
    ctx.metrics.messageIn('invalid');
    if (v.error.code === 'UNEXPECTED_TYPE') {
      session.close(CloseCode.POLICY_VIOLATION, 'a gateway message type from a device');
      return;
    }
    const code = v.error.code === 'TOO_LARGE' ? 'TOO_LARGE' : 'BAD_MESSAGE';
    session.send({ type: 'error', code, message: formatValidationError(v.error).slice(0, 200) });
    return;
  }
  const msg = v.message;
  ctx.metrics.messageIn(msg.type);
  if (!session.ready && msg.type !== 'hello') {
    session.close(CloseCode.POLICY_VIOLATION, 'hello must come first');
    return;
  }
  switch (msg.type) {
    case 'hello':
      handleHello(ctx, session, msg);
      return;
    case 'telemetry':
      handleTelemetry(ctx, session, msg);
      return;
    case 'telemetry_batch':
      handleTelemetryBatch(ctx, session, msg);
      return;
    case 'command_result':
      handleCommandResult(ctx, session, msg);
      return;
    case 'heartbeat':
      handleHeartbeat(ctx, session, msg);
      return;
    case 'error':
      handleDeviceError(ctx, session, msg);
      return;
    default:
      session.send({ type: 'error', code: 'UNSUPPORTED', message: `${msg.type} is not handled`, ref: msg.seq });
  }
}
