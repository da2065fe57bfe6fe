/**
 * The WebSocket handshake of kiln.v1 (SPEC.md §1.1): the device offers
 * `kiln.v1, kiln.jwt.<JWS>`; the gateway selects `kiln.v1` and must never echo the token.
 */
import { ProtocolError } from './errors.ts';

export const SUBPROTOCOL = 'kiln.v1';
export const TOKEN_SUBPROTOCOL_PREFIX = 'kiln.jwt.';
export const DEVICE_PATH = '/v1/device';

/** A compact JWS: three base64url segments. Also an RFC 6455 token, so it fits in the header. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function deviceSubprotocols(token: string): [string, string] {
  if (!COMPACT_JWS.test(token)) throw new ProtocolError('JWT_MALFORMED', 'the device token is not a compact JWS');
  return [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`];
}

/**
 * Reads the offered protocols (the `Sec-WebSocket-Protocol` values, in order).
 * Answers the token, or a reason the offer is refused; never throws.
 */
export function parseOfferedSubprotocols(
  offered: Iterable<string>,
): { ok: true; token: string } | { ok: false; reason: 'NO_KILN_V1' | 'NO_TOKEN' | 'MANY_TOKENS' | 'BAD_TOKEN' } {
  let hasV1 = false;
  const tokens: string[] = [];
  for (const raw of offered) {
    const p = raw.trim();
    if (p === SUBPROTOCOL) hasV1 = true;
    else if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) tokens.push(p.slice(TOKEN_SUBPROTOCOL_PREFIX.length));
  }
  if (!hasV1) return { ok: false, reason: 'NO_KILN_V1' };
  if (tokens.length === 0) return { ok: false, reason: 'NO_TOKEN' };
  if (tokens.length > 1) return { ok: false, reason: 'MANY_TOKENS' };
  const token = tokens[0] as string;
  if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'BAD_TOKEN' };
  return { ok: true, token };
}

/** Redacts kiln.jwt.* offers from a header value before it goes anywhere near a log. */
export function redactSubprotocolHeader(value: string): string {
  return value
    .split(',')
    .map((p) => (p.trim().startsWith(TOKEN_SUBPROTOCOL_PREFIX) ? ` ${TOKEN_SUBPROTOCOL_PREFIX}[redacted]` : p))
    .join(',')
    .trim();
}

/** Close codes (SPEC.md §1.6). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  SUPERSEDED: 4001,
  REVOKED: 4003,
  HELLO_TIMEOUT: 4008,
} as const;
export type CloseCodeName = keyof typeof CloseCode;
