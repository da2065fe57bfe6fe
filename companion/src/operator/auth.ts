/**
 * Who an operator request is: a bearer API key (CLI, scripts) or a browser session cookie.
 * One place for both the REST middleware and the stream's HTTP upgrade, so the rules are the
 * same: the bearer wins when both are sent; a session is only as good as its key (re-checked
 * on every use, so a revocation made anywhere ends it); cookie requests that change state need
 * the CSRF token and an allowed Origin. Allowed origins are the gateway's own (filled in once
 * the port is known) and the configured allowlist (corsOrigins).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { constantTimeEqual } from '../secrets.ts';
import type { ApiKeyRepo, ApiKeyRow } from '../store/api-keys.ts';
import type { OperatorSession, OperatorSessions } from './sessions.ts';

export const SESSION_COOKIE = 'kiln_session';
export const CSRF_HEADER = 'x-csrf-token';

export type Principal =
  | { kind: 'key'; id: string; key: ApiKeyRow }
  | { kind: 'session'; id: string; key: ApiKeyRow; session: OperatorSession };

export type AuthOutcome =
  | { ok: true; principal: Principal }
  /** `presented`: credentials were sent and refused (counts against the auth-failure limit). */
  | { ok: false; presented: boolean };

/** What ended: a key (every stream it opened, every session it made) or one session. */
export type Ended = { keyId: string } | { sessionId: string };

/** The value of one cookie from a Cookie header (the first one of that name). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export class OperatorAuth {
  readonly #origins: Set<string>;
  readonly #listeners: ((e: Ended) => void)[] = [];

  constructor(
    readonly apiKeys: ApiKeyRepo,
    readonly sessions: OperatorSessions,
    allowlist: readonly string[],
    /** Whether cookies get the Secure attribute (the gateway serves TLS). */
    readonly secureCookies: boolean,
  ) {
    this.#origins = new Set(allowlist);
    sessions.onEnded((s) => this.#emit({ sessionId: s.id }));
  }

  /** The gateway's own origins, known once it listens. */
  addOwnOrigins(origins: readonly string[]): void {
    for (const o of origins) this.#origins.add(o);
  }

  originAllowed(origin: string | undefined): boolean {
    return origin !== undefined && this.#origins.has(origin);
  }

  onEnded(fn: (e: Ended) => void): void {
    this.#listeners.push(fn);
  }

  #emit(e: Ended): void {
    for (const fn of this.#listeners) fn(e);
  }

  /** A key was revoked here: its sessions end and its streams close now (elsewhere: at their next check). */
  keyRevoked(keyId: string): void {
    this.sessions.endForKey(keyId);
    this.#emit({ keyId });
  }

  authenticate(headers: IncomingHttpHeaders): AuthOutcome {
    const authorization = headers.authorization;
    if (authorization !== undefined) {
      const m = /^Bearer ([\x21-\x7e]{1,256})$/.exec(authorization);
      const key = m ? this.apiKeys.verify(m[1] as string) : undefined;
      return key ? { ok: true, principal: { kind: 'key', id: `key:${key.id}`, key } } : { ok: false, presented: true };
    }
    const cookie = readCookie(headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) return { ok: false, presented: false };
    const session = this.sessions.lookup(cookie);
    if (!session) return { ok: false, presented: true };
    const key = this.apiKeys.live(session.keyId);
    if (!key) {
      this.sessions.end(session.id, 'key-revoked');
      return { ok: false, presented: true };
    }
    this.sessions.touch(session);
    return { ok: true, principal: { kind: 'session', id: `session:${session.id}`, key, session } };
  }

  /** Whether a principal is still good (streams re-check at every ping round). */
  stillValid(p: Principal): boolean {
    if (!this.apiKeys.live(p.key.id)) {
      if (p.kind === 'session') this.sessions.end(p.session.id, 'key-revoked');
      return false;
    }
    if (p.kind === 'key') return true;
    const s = this.sessions.get(p.session.id);
    if (s) this.sessions.touch(s);
    return s !== undefined;
  }

  /** A state-changing cookie request: the session's CSRF token (constant time) and an allowed Origin. */
  csrfOk(headers: IncomingHttpHeaders, session: OperatorSession): boolean {
    const token = headers[CSRF_HEADER];
    if (typeof token !== 'string' || !constantTimeEqual(token, session.csrfToken)) return false;
    return this.originAllowed(headers.origin);
  }

  sessionCookie(value: string): string {
    return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/${this.secureCookies ? '; Secure' : ''}`;
  }

  clearedCookie(): string {
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${this.secureCookies ? '; Secure' : ''}`;
  }
}
