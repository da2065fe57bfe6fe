/**
 * Secrets at rest. Tokens the gateway only has to recognise (API keys) are stored as
 * `h1:<sha256 hex>` and compared in constant time on fixed-length digests. Secrets it
 * must read back (the dev CA and server private keys) are sealed with XChaCha20-Poly1305
 * under a 32-byte master key and stored as `enc:v1:<base64(nonce || ciphertext)>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KilnError } from '@kiln/protocol';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

const HASH_PREFIX = 'h1:';
const ENC_PREFIX = 'enc:v1:';
const NONCE_BYTES = 24;

/** A new API key: `kiln_` + 32 random bytes, base64url. Shown to the operator once. */
export function newApiKey(): string {
  return `kiln_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return `${HASH_PREFIX}${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

/** Constant time: both sides are hashed first, so lengths are always equal (32 bytes). */
export function secretMatches(secret: string, storedHash: string): boolean {
  if (!storedHash.startsWith(HASH_PREFIX)) return false;
  const expected = Buffer.from(storedHash.slice(HASH_PREFIX.length), 'hex');
  const actual = createHash('sha256').update(secret, 'utf8').digest();
  if (expected.length !== actual.length) return false;
  return timingSafeEqual(expected, actual);
}

/** Constant-time equality of two strings of any length (compares their digests). */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

export class SecretBox {
  readonly #key: Uint8Array;
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new KilnError('MASTER_KEY_INVALID', 'the master key must be 32 bytes');
    this.#key = key;
  }

  seal(plaintext: string | Uint8Array, aad = 'kiln'): string {
    const nonce = randomBytes(NONCE_BYTES);
    const data = typeof plaintext === 'string' ? new TextEncoder().encode(plaintext) : plaintext;
    const ct = xchacha20poly1305(this.#key, nonce, new TextEncoder().encode(aad)).encrypt(data);
    return `${ENC_PREFIX}${Buffer.concat([nonce, ct]).toString('base64')}`;
  }

  open(sealed: string, aad = 'kiln'): Buffer {
    if (!sealed.startsWith(ENC_PREFIX)) throw new KilnError('SECRET_NOT_SEALED', 'the value is not enc:v1: sealed');
    const raw = Buffer.from(sealed.slice(ENC_PREFIX.length), 'base64');
    if (raw.length < NONCE_BYTES + 16) throw new KilnError('SECRET_CORRUPT', 'the sealed value is truncated');
    try {
      const pt = xchacha20poly1305(this.#key, raw.subarray(0, NONCE_BYTES), new TextEncoder().encode(aad)).decrypt(
        raw.subarray(NONCE_BYTES),
      );
      return Buffer.from(pt);
    } catch (e) {
      throw new KilnError('SECRET_CORRUPT', 'a sealed secret does not open with this master key', {
        cause: e,
        hint: 'the data dir was copied without master.key, or KILN_GATEWAY_MASTER_KEY changed',
      });
    }
  }
}

export const isSealed = (v: string) => v.startsWith(ENC_PREFIX);

/**
 * The master key: KILN_GATEWAY_MASTER_KEY (64 hex chars) when set, else `master.key`
 * in the data dir, created 0600 on first start.
 */
export function loadMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Uint8Array {
  const fromEnv = env.KILN_GATEWAY_MASTER_KEY;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^[0-9a-f]{64}$/i.test(fromEnv))
      throw new KilnError('MASTER_KEY_INVALID', 'KILN_GATEWAY_MASTER_KEY must be 64 hex characters (32 bytes)');
    return Buffer.from(fromEnv, 'hex');
  }
  const file = join(dataDir, 'master.key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  const hex = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) throw new KilnError('MASTER_KEY_INVALID', `${file} is not 64 hex characters`);
  return Buffer.from(hex, 'hex');
}
