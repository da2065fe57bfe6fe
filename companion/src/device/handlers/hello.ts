/** `hello` → `welcome` (SPEC §1.3): the session becomes ready; pending commands follow. */
import { CloseCode, type Hello } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import { effectiveConfig } from '../device-config.ts';
import type { Session } from '../session.ts';

export function handleHello(ctx: HubContext, session: Session, msg: Hello): void {
  if (session.ready) {
    session.send({ type: 'error', code: 'BAD_MESSAGE', message: 'hello was already received', ref: msg.seq });
    return;
  }
  // The token proved who connected; the hello may not claim to be someone else.
  if (msg.deviceId !== session.deviceId) {
    session.close(CloseCode.POLICY_VIOLATION, 'hello deviceId differs from the token');
    return;
  }
  session.markReady(msg.bootId, ctx.store.telemetry.highestSeq(session.deviceId, msg.bootId));
  const now = Date.now();
  ctx.store.devices.markSeen(
    session.deviceId,
    'online',
    {
      chip: msg.chip,
      mac: msg.mac,
      firmware: msg.firmware,
      bootId: msg.bootId,
    },
    now,
  );
  const { maxBatch } = ctx.config.limits;
  const { heartbeatSec, telemetrySec } = effectiveConfig(
    ctx.store.devices.configOf(session.deviceId),
    ctx.config.limits,
  );
  session.send({ type: 'welcome', serverTime: now, heartbeatSec, telemetrySec, maxBatch });
  ctx.bridge.publishStatus(session.deviceId, { state: 'online', since: session.startedAt, lastSeen: now });
  ctx.commands.deliverPending(session);
}
