/** `heartbeat`: the application-level keepalive; answered in kind, last-seen updated. */
import type { Heartbeat } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import type { Session } from '../session.ts';

export function handleHeartbeat(ctx: HubContext, session: Session, _msg: Heartbeat): void {
  const now = Date.now();
  session.lastSeenAt = now;
  ctx.store.devices.markSeen(session.deviceId, 'online', {}, now);
  session.send({ type: 'heartbeat', uptimeMs: Math.floor(process.uptime() * 1000) });
}
