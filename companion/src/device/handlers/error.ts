/** `error` from a device: logged and counted, never answered (no error ping-pong). */
import type { ErrorMessage } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import type { Session } from '../session.ts';

export function handleDeviceError(ctx: HubContext, session: Session, msg: ErrorMessage): void {
  ctx.log.warn({ deviceId: session.deviceId, code: msg.code, ref: msg.ref }, 'device reported an error');
}
