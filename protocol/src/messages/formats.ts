/** The string formats of SPEC.md §1.4. Checked byte by byte, as the C twin does, not by regex engines. */
import type { StringFormat } from './spec.ts';

const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHexLower = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66);

/**
 * Runs `test` over the string's UTF-16 code units. Every format but `text` allows
 * ASCII only, and every code unit of a non-ASCII character is >= 0x80, so checking
 * code units gives the same verdict as checking UTF-8 bytes, without encoding.
 */
function every(s: string, test: (c: number, i: number) => boolean): boolean {
  for (let i = 0; i < s.length; i++) if (!test(s.charCodeAt(i), i)) return false;
  return true;
}

const CHECKS: Record<StringFormat, (b: string) => boolean> = {
  deviceId: (b) => every(b, (c, i) => isLower(c) || isDigit(c) || (i > 0 && (c === 0x2d || c === 0x5f))),
  hex: (b) => every(b, isHexLower),
  mac: (b) => b.length === 17 && every(b, (c, i) => (i % 3 === 2 ? c === 0x3a : isHexLower(c))),
  metricName: (b) => every(b, (c, i) => isLower(c) || (i > 0 && (isDigit(c) || c === 0x5f || c === 0x2e))),
  token: (b) => every(b, (c) => isLower(c) || isUpper(c) || isDigit(c) || c === 0x2d || c === 0x5f),
  text: (b) => every(b, (c) => c >= 0x20 && c !== 0x7f),
};

/** Whether `value` (already length-checked) has the format. */
export function hasFormat(value: string, format: StringFormat): boolean {
  return CHECKS[format](value);
}

/** Device ids as SPEC.md §1.4 defines them, length included. */
export function isDeviceId(value: string): boolean {
  const n = Buffer.byteLength(value);
  return n >= 3 && n <= 64 && hasFormat(value, 'deviceId');
}

export function isToken(value: string, min = 1, max = 64): boolean {
  const n = Buffer.byteLength(value);
  return n >= min && n <= max && hasFormat(value, 'token');
}
