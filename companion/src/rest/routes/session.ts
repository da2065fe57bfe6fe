/**
 * /api/v1/session: a browser signs in with an operator API key and gets an HttpOnly cookie
 * plus a CSRF token (POST), reads them back after a reload (GET), signs out (DELETE, which
 * needs the CSRF token like every state change made with the cookie). Sign-in and sign-out
 * are audited; failed sign-ins count against the per-IP auth-failure limit.
 */
import { type Response, Router } from 'express';
import { GatewayError } from '../../errors.ts';
import { type Principal, SESSION_COOKIE } from '../../operator/auth.ts';
import type { OperatorSession } from '../../operator/sessions.ts';
import type { ApiKeyRow } from '../../store/api-keys.ts';
import { checkBody } from '../body.ts';
import type { RestDeps } from '../deps.ts';
import { principalOf, type RestLimits, requireScope } from '../middleware.ts';

/** The audit log names a session by a prefix of its hash: enough to tell sessions apart, useless as a cookie. */
const sessionRef = (s: OperatorSession) => s.id.slice(0, 12);

export function sessionRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router();
  const { operator } = d;
  const body = (s: OperatorSession, key: ApiKeyRow) => ({
    scope: s.scope,
    csrfToken: s.csrfToken,
    expiresAt: s.expiresAt,
    idleTimeoutSec: Math.round(operator.sessions.limits.idleMs / 1000),
    keyId: key.id,
    keyName: key.name,
  });
  const noSession = () =>
    new GatewayError('UNAUTHENTICATED', 'not signed in, or the session ended', {
      hint: 'sign in with POST /api/v1/session {"apiKey": …}',
    });

  r.post('/', limits.route('session.create'), (req, res: Response) => {
    const ip = req.ip ?? 'unknown';
    const gate = limits.authFailures.hit(ip, 0);
    if (!gate.allowed) {
      res.setHeader('Retry-After', String(gate.retryAfterSec));
      throw new GatewayError('RATE_LIMITED', 'too many failed sign-ins from this address');
    }
    const { apiKey } = checkBody<{ apiKey: string }>(req.body, { apiKey: { kind: 'string', min: 1, max: 256 } });
    const key = operator.apiKeys.verify(apiKey);
    if (!key) {
      limits.authFailures.hit(ip);
      throw new GatewayError('UNAUTHENTICATED', 'the API key was refused', {
        hint: 'kiln gateway api-key create --scope read (or operate, admin) makes one',
      });
    }
    if (key.scope === 'enroll')
      throw new GatewayError('FORBIDDEN', 'an enroll key cannot sign in: use a read, operate or admin key');
    const made = operator.sessions.create(key);
    if (!made) {
      res.setHeader('Retry-After', '60');
      throw new GatewayError('RATE_LIMITED', 'the gateway holds as many browser sessions as it may', {
        hint: 'sign out elsewhere, or wait for idle sessions to expire',
      });
    }
    d.store.audit.record({
      actor: key.id,
      action: 'session.create',
      target: sessionRef(made.session),
      ...(req.ip ? { ip: req.ip } : {}),
    });
    res.setHeader('Set-Cookie', operator.sessionCookie(made.cookieValue));
    res.json(body(made.session, key));
  });

  r.get('/', limits.route('session.show'), (req, res) => {
    const a = operator.authenticate({ cookie: req.headers.cookie });
    if (!a.ok || a.principal.kind !== 'session') {
      if (req.headers.cookie?.includes(`${SESSION_COOKIE}=`)) res.setHeader('Set-Cookie', operator.clearedCookie());
      throw noSession();
    }
    res.json(body(a.principal.session, a.principal.key));
  });

  r.delete('/', limits.route('session.delete'), requireScope(operator, limits, 'read'), (req, res) => {
    const p: Principal = principalOf(res);
    if (p.kind !== 'session')
      throw new GatewayError('BAD_REQUEST', 'there is no session to end: this request used a bearer key');
    operator.sessions.end(p.session.id, 'logout');
    d.store.audit.record({
      actor: p.key.id,
      action: 'session.delete',
      target: sessionRef(p.session),
      ...(req.ip ? { ip: req.ip } : {}),
    });
    res.setHeader('Set-Cookie', operator.clearedCookie());
    res.status(204).end();
  });

  return r;
}
