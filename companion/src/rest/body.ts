/**
 * Request validation for REST bodies and query strings: declared fields only, each with a
 * kind and bounds; the first failure is a VALIDATION_FAILED naming the field.
 */
import { GatewayError } from '../errors.ts';

export type Rule =
  | { kind: 'string'; min?: number; max: number; pattern?: RegExp; oneOf?: readonly string[]; optional?: boolean }
  | { kind: 'integer'; min: number; max: number; optional?: boolean }
  | { kind: 'object'; maxKeys?: number; maxBytes?: number; optional?: boolean };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, expected: string): never {
  throw new GatewayError('VALIDATION_FAILED', `${field}: expected ${expected}`);
}

export function checkBody<T>(body: unknown, rules: Record<string, Rule>): T {
  if (!isObject(body)) bad('(body)', 'a JSON object');
  for (const key of Object.keys(body)) if (!(key in rules)) bad(key, 'no such field');
  for (const [key, rule] of Object.entries(rules)) {
    const v = body[key];
    if (v === undefined) {
      if (!rule.optional) bad(key, 'a value (required)');
      continue;
    }
    checkValue(key, v, rule);
  }
  return body as T;
}

function checkValue(key: string, v: unknown, rule: Rule): void {
  switch (rule.kind) {
    case 'string':
      if (typeof v !== 'string') bad(key, 'a string');
      if (v.length < (rule.min ?? 0) || v.length > rule.max) bad(key, `${rule.min ?? 0}..${rule.max} characters`);
      if (rule.pattern && !rule.pattern.test(v)) bad(key, `to match ${rule.pattern.source}`);
      if (rule.oneOf && !rule.oneOf.includes(v)) bad(key, `one of ${rule.oneOf.join(', ')}`);
      return;
    case 'integer':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < rule.min || v > rule.max)
        bad(key, `an integer ${rule.min}..${rule.max}`);
      return;
    case 'object':
      if (!isObject(v)) bad(key, 'an object');
      if (Object.keys(v).length > (rule.maxKeys ?? 64)) bad(key, `at most ${rule.maxKeys ?? 64} keys`);
      if (JSON.stringify(v).length > (rule.maxBytes ?? 8192))
        bad(key, `at most ${rule.maxBytes ?? 8192} bytes of JSON`);
      return;
  }
}

/** Query strings: every value is a string (or absent); converts integers. */
export function queryInt(q: unknown, key: string, dflt: number, min: number, max: number): number {
  const v = (q as Record<string, unknown>)[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^-?\d{1,16}$/.test(v)) bad(key, `an integer ${min}..${max}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) bad(key, `an integer ${min}..${max}`);
  return n;
}

export function queryString(q: unknown, key: string, pattern: RegExp): string | undefined {
  const v = (q as Record<string, unknown>)[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !pattern.test(v)) bad(key, `to match ${pattern.source}`);
  return v;
}
