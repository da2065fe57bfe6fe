/**
 * kiln.v1 message validation (SPEC.md §1.5): the first failure, as {code, path},
 * in exactly the order the C validator checks. Never throws on any input.
 */
import { LIMITS } from '../limits.ts';
import { hasFormat } from './formats.ts';
import { MESSAGE_SCHEMAS } from './schemas.ts';
import type { Field, FieldSpec, MessageSchema, Sender } from './spec.ts';
import type { Message } from './types.ts';

export type ValidationCode =
  | 'TOO_LARGE'
  | 'INVALID_JSON'
  | 'WRONG_TYPE'
  | 'MISSING_FIELD'
  | 'UNKNOWN_TYPE'
  | 'UNEXPECTED_TYPE'
  | 'UNKNOWN_FIELD'
  | 'NOT_INTEGER'
  | 'OUT_OF_RANGE'
  | 'TOO_SHORT'
  | 'TOO_LONG'
  | 'BAD_FORMAT'
  | 'NOT_ALLOWED';

export interface ValidationError {
  code: ValidationCode;
  /** JSON Pointer (RFC 6901) of the offending value; "" is the whole message. */
  path: string;
  /** What was expected there, for people. */
  expected: string;
}

export type ValidationResult = { ok: true; message: Message } | { ok: false; error: ValidationError };

const BY_TYPE = new Map<string, MessageSchema>(MESSAGE_SCHEMAS.map((s) => [s.type, s]));
const TYPES = MESSAGE_SCHEMAS.map((s) => s.type).join(', ');

export function schemaFor(type: string): MessageSchema | undefined {
  return BY_TYPE.get(type);
}

const pointer = (parent: string, key: string | number) =>
  `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;
const where = (parent: string, key: string | number | undefined) => (key === undefined ? parent : pointer(parent, key));

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Byte-wise UTF-8 order (C's strcmp), which is code-point order, not JS's UTF-16 order. */
function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

class Failure {
  constructor(readonly error: ValidationError) {}
}

/** `expected` is a spec or a sentence; a spec is only described when it fails (the hot path never pays). */
function fail(code: ValidationCode, path: string, expected: string | FieldSpec): never {
  throw new Failure({ code, path, expected: typeof expected === 'string' ? expected : describe(expected) });
}

function describe(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'integer':
      return `an integer ${spec.min}..${spec.max}`;
    case 'number':
      return 'a finite number';
    case 'string':
      if (spec.oneOf) return `one of: ${spec.oneOf.join(', ')}`;
      return `a ${spec.format ?? ''} string of ${spec.min}..${spec.max} bytes`.replace('a  string', 'a string');
    case 'object':
      return `an object with ${spec.fields.map((f) => f.name).join(', ')}`;
    case 'freeObject':
      return 'an object';
    case 'array':
      return `an array of ${spec.min}..${spec.max} items`;
    case 'map':
      return `an object of ${spec.min}..${spec.max} ${spec.key.format} keys`;
  }
}

/**
 * Checks `v`, found at `key` under `parent` (`key` undefined: `v` is at `parent` itself).
 * The JSON Pointer is built only when something fails or a container is entered: this
 * runs for every field of every message a gateway receives.
 */
function checkValue(v: unknown, spec: FieldSpec, parent: string, key?: string | number): void {
  const want = spec;
  switch (spec.kind) {
    case 'integer':
      if (typeof v !== 'number') fail('WRONG_TYPE', where(parent, key), want);
      if (!Number.isInteger(v)) fail('NOT_INTEGER', where(parent, key), want);
      if (v < spec.min || v > spec.max) fail('OUT_OF_RANGE', where(parent, key), want);
      return;
    case 'number':
      if (typeof v !== 'number') fail('WRONG_TYPE', where(parent, key), want);
      if (!Number.isFinite(v)) fail('OUT_OF_RANGE', where(parent, key), want);
      return;
    case 'string': {
      if (typeof v !== 'string') fail('WRONG_TYPE', where(parent, key), want);
      const n = Buffer.byteLength(v, 'utf8');
      if (n < spec.min) fail('TOO_SHORT', where(parent, key), want);
      if (n > spec.max) fail('TOO_LONG', where(parent, key), want);
      if (spec.format && !hasFormat(v, spec.format)) fail('BAD_FORMAT', where(parent, key), want);
      if (spec.oneOf && !spec.oneOf.includes(v)) fail('NOT_ALLOWED', where(parent, key), want);
      return;
    }
    case 'object':
      if (!isObject(v)) fail('WRONG_TYPE', where(parent, key), want);
      checkFields(v, spec.fields, where(parent, key));
      return;
    case 'freeObject':
      if (!isObject(v)) fail('WRONG_TYPE', where(parent, key), want);
      return;
    case 'array':
      if (!Array.isArray(v)) fail('WRONG_TYPE', where(parent, key), want);
      if (v.length < spec.min) fail('TOO_SHORT', where(parent, key), want);
      if (v.length > spec.max) fail('TOO_LONG', where(parent, key), want);
      {
        const path = where(parent, key);
        for (let i = 0; i < v.length; i++) checkValue(v[i], spec.items, path, i);
      }
      return;
    case 'map': {
      if (!isObject(v)) fail('WRONG_TYPE', where(parent, key), want);
      const keys = Object.keys(v);
      if (keys.length < spec.min) fail('TOO_SHORT', where(parent, key), want);
      if (keys.length > spec.max) fail('TOO_LONG', where(parent, key), want);
      const path = where(parent, key);
      // The failure reported is the first in byte order of the keys, as the C validator walks
      // them. Sorting every map to find it was most of the garbage validation made per telemetry
      // message (the metrics map); a valid map, nearly every one, is checked in the order it
      // came, and only one that fails is walked again, sorted, to throw the right failure.
      try {
        for (const k of keys) checkMapEntry(v, k, spec, path);
      } catch (e) {
        if (!(e instanceof Failure)) throw e;
        for (const k of keys.sort(byteOrder)) checkMapEntry(v, k, spec, path);
      }
      return;
    }
  }
}

function checkMapEntry(v: Record<string, unknown>, k: string, spec: FieldSpec & { kind: 'map' }, path: string): void {
  const n = Buffer.byteLength(k, 'utf8');
  if (n < spec.key.min || n > spec.key.max || !hasFormat(k, spec.key.format)) {
    fail('BAD_FORMAT', pointer(path, k), `a ${spec.key.format} key of ${spec.key.min}..${spec.key.max} bytes`);
  }
  checkValue(v[k], spec.values, path, k);
}

function isField(fields: readonly Field[], key: string): boolean {
  for (const f of fields) if (f.name === key) return true;
  return false;
}

function checkFields(v: Record<string, unknown>, fields: readonly Field[], path: string): void {
  for (const field of fields) {
    if (!Object.hasOwn(v, field.name)) {
      if (field.required) fail('MISSING_FIELD', pointer(path, field.name), field.spec);
      continue;
    }
    checkValue(v[field.name], field.spec, path, field.name);
  }
  let unknown: string | undefined;
  for (const key in v) {
    if ((path === '' && key === 'type') || isField(fields, key)) continue;
    if (unknown === undefined || byteOrder(key, unknown) < 0) unknown = key;
  }
  if (unknown !== undefined) {
    fail('UNKNOWN_FIELD', pointer(path, unknown), `only ${fields.map((f) => f.name).join(', ')}`);
  }
}

function sends(schema: MessageSchema, from: Sender): boolean {
  return schema.from === 'both' || schema.from === from;
}

/** Validates a parsed value (already JSON) as a kiln.v1 message. */
export function validateValue(value: unknown, from?: 'device' | 'gateway'): ValidationResult {
  try {
    if (!isObject(value)) fail('WRONG_TYPE', '', `a JSON object, not ${jsonType(value)}`);
    if (!Object.hasOwn(value, 'type')) fail('MISSING_FIELD', '/type', `a message type (${TYPES})`);
    const type = value.type;
    if (typeof type !== 'string') fail('WRONG_TYPE', '/type', `a string, one of ${TYPES}`);
    const schema = BY_TYPE.get(type);
    if (!schema) fail('UNKNOWN_TYPE', '/type', `one of ${TYPES}`);
    if (from && !sends(schema, from)) fail('UNEXPECTED_TYPE', '/type', `a message a ${from} may send`);
    checkFields(value, schema.fields, '');
    return { ok: true, message: value as unknown as Message };
  } catch (e) {
    if (e instanceof Failure) return { ok: false, error: e.error };
    throw e;
  }
}

/** Validates one WebSocket text frame (string or UTF-8 bytes). */
export function validateMessage(text: string | Uint8Array, from?: 'device' | 'gateway'): ValidationResult {
  const bytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > LIMITS.messageBytes) {
    return { ok: false, error: { code: 'TOO_LARGE', path: '', expected: `at most ${LIMITS.messageBytes} bytes` } };
  }
  let value: unknown;
  try {
    // No copy of the bytes: a gateway calls this for every frame it receives.
    const str =
      typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8');
    value = JSON.parse(str);
  } catch {
    return { ok: false, error: { code: 'INVALID_JSON', path: '', expected: 'one JSON object' } };
  }
  return validateValue(value, from);
}

export function formatValidationError(error: ValidationError): string {
  return `${error.code} at ${error.path === '' ? '(message)' : error.path}: expected ${error.expected}`;
}
