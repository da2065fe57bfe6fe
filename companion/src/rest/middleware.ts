/**
 * Cross-cutting REST middleware: security headers, CORS allowlist, rate limits (per IP,
 * per route; 429 + Retry-After), operator auth (bearer API key or browser session with
 * CSRF) with scopes, JSON errors.
 */
import type { NextFunction, Request, Response } from 'express';
import { GATEWAY_ERROR_CODES, GatewayError } from '../errors.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { OperatorAuth, Principal } from '../operator/auth.ts';
import { type ApiKeyRow, type Scope, scopeAllows } from '../store/api-keys.ts';
import { FixedWindowLimiter } from '../util/rate-limit.ts';

export function securityHeaders(tls: boolean) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Cache-Control', 'no-store');
    if (tls) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
    next();
  };
}

/** Origins allowed: the gateway's own (its dashboard) and the configured allowlist. */
export function cors(auth: Pick<OperatorAuth, 'originAllowed'>) {
  return (req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin === undefined) return next();
    if (!auth.originAllowed(origin)) {
      // A browser on another origin gets nothing, not even a preflight answer.
      return next(
        new GatewayError('ORIGIN_NOT_ALLOWED', `origin ${origin} is not allowed`, { hint: 'add it to corsOrigins' }),
      );
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    if (req.method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-CSRF-Token');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}

export class RestLimits {
  readonly perIp: FixedWindowLimiter;
  readonly perRoute: FixedWindowLimiter;
  readonly authFailures: FixedWindowLimiter;
  constructor(
    limits: { restRequestsPerMinPerIp: number; restRequestsPerMinPerRoute: number; authFailuresPerMinPerIp: number },
    private readonly metrics: GatewayMetrics,
  ) {
    this.perIp = new FixedWindowLimiter(limits.restRequestsPerMinPerIp, 60_000);
    this.perRoute = new FixedWindowLimiter(limits.restRequestsPerMinPerRoute, 60_000);
    this.authFailures = new FixedWindowLimiter(limits.authFailuresPerMinPerIp, 60_000);
  }

  private refuse(res: Response, next: NextFunction, retryAfterSec: number, limit: string): void {
    this.metrics.rateLimited.inc({ limit });
    res.setHeader('Retry-After', String(retryAfterSec));
    next(new GatewayError('RATE_LIMITED', `too many requests (${limit}); retry in ${retryAfterSec} s`));
  }

  ip() {
    return (req: Request, res: Response, next: NextFunction) => {
      const d = this.perIp.hit(req.ip ?? 'unknown');
      if (!d.allowed) return this.refuse(res, next, d.retryAfterSec, 'ip');
      next();
    };
  }

  /** Fixed window per (client IP, route name). */
  route(name: string) {
    return (req: Request, res: Response, next: NextFunction) => {
      const d = this.perRoute.hit(`${req.ip ?? 'unknown'}|${name}`);
      if (!d.allowed) return this.refuse(res, next, d.retryAfterSec, `route:${name}`);
      next();
    };
  }

  close(): void {
    this.perIp.close();
    this.perRoute.close();
    this.authFailures.close();
  }
}

export function keyOf(res: Response): ApiKeyRow {
  return res.locals.apiKey as ApiKeyRow;
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * A bearer API key or a browser session; with the session, anything but GET/HEAD also needs
 * the CSRF token and an allowed Origin (403 CSRF). Then the scope of the key.
 */
export function requireScope(auth: OperatorAuth, limits: RestLimits, scope: Scope) {
  return (req: Request, res: Response, next: NextFunction) => {
    const ip = req.ip ?? 'unknown';
    const gate = limits.authFailures.hit(ip, 0);
    if (!gate.allowed) {
      res.setHeader('Retry-After', String(gate.retryAfterSec));
      return next(new GatewayError('RATE_LIMITED', 'too many failed logins from this address'));
    }
    const r = auth.authenticate(req.headers);
    if (!r.ok) {
      limits.authFailures.hit(ip);
      res.setHeader('WWW-Authenticate', 'Bearer realm="kiln"');
      return next(
        new GatewayError('UNAUTHENTICATED', 'a valid API key or session is required', {
          hint: 'Authorization: Bearer <key>, or sign in again (POST /api/v1/session)',
        }),
      );
    }
    const p = r.principal;
    if (p.kind === 'session' && !SAFE_METHODS.has(req.method) && !auth.csrfOk(req.headers, p.session))
      return next(
        new GatewayError('CSRF', 'a signed-in browser must send X-CSRF-Token and its Origin with this request', {
          hint: 'use the csrfToken from GET /api/v1/session',
        }),
      );
    if (!scopeAllows(p.key.scope, scope))
      return next(new GatewayError('FORBIDDEN', `this needs the ${scope} scope; the key has ${p.key.scope}`));
    res.locals.apiKey = p.key;
    res.locals.principal = p;
    next();
  };
}

/** The last middleware: every failure leaves as `{error: {code, message, hint?}}`. */
export function errorHandler(metrics: GatewayMetrics, onInternal: (err: unknown) => void) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    let e: GatewayError;
    if (err instanceof GatewayError) e = err;
    else {
      const t = (err as { type?: string; status?: number })?.type;
      if (t === 'entity.too.large') e = new GatewayError('BODY_TOO_LARGE', 'the request body is too large');
      else if (t === 'entity.parse.failed') e = new GatewayError('BAD_REQUEST', 'the body is not valid JSON');
      else if (t === 'charset.unsupported' || t === 'encoding.unsupported')
        e = new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'send UTF-8 JSON');
      else if ((err as { status?: number })?.status === 400)
        e = new GatewayError('BAD_REQUEST', 'the request is malformed');
      else {
        onInternal(err);
        e = new GatewayError('INTERNAL', 'the gateway failed; see its log');
      }
    }
    metrics.restRequests.inc({ status: String(e.status) });
    if (res.headersSent) return;
    res.status(GATEWAY_ERROR_CODES[e.code as keyof typeof GATEWAY_ERROR_CODES] ?? 500).json({
      error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) },
    });
  };
}
