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

export function schemaFor(type: string): MessageSchema | undefined {
  return BY_TYPE.get(type);
}

const pointer = (parent: string, key: string | number) =>
  `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

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

function checkValue(v: unknown, spec: FieldSpec, path: string): void {
  const want = spec;
  switch (spec.kind) {
    case 'integer':
      if (typeof v !== 'number') fail('WRONG_TYPE', path, want);
      if (!Number.isInteger(v)) fail('NOT_INTEGER', path, want);
      if (v < spec.min || v > spec.max) fail('OUT_OF_RANGE', path, want);
      return;
    case 'number':
      if (typeof v !== 'number') fail('WRONG_TYPE', path, want);
      if (!Number.isFinite(v)) fail('OUT_OF_RANGE', path, want);
      return;
    case 'string': {
      if (typeof v !== 'string') fail('WRONG_TYPE', path, want);
      const n = Buffer.byteLength(v, 'utf8');
      if (n < spec.min) fail('TOO_SHORT', path, want);
      if (n > spec.max) fail('TOO_LONG', path, want);
      if (spec.format && !hasFormat(v, spec.format)) fail('BAD_FORMAT', path, want);
      if (spec.oneOf && !spec.oneOf.includes(v)) fail('NOT_ALLOWED', path, want);
      return;
    }
    case 'object':
      if (!isObject(v)) fail('WRONG_TYPE', path, want);
      checkFields(v, spec.fields, path);
      return;
    case 'freeObject':
      if (!isObject(v)) fail('WRONG_TYPE', path, want);
      return;
    case 'array':
      if (!Array.isArray(v)) fail('WRONG_TYPE', path, want);
      if (v.length < spec.min) fail('TOO_SHORT', path, want);
      if (v.length > spec.max) fail('TOO_LONG', path, want);
      for (const [i, item] of v.entries()) checkValue(item, spec.items, pointer(path, i));
      return;
    case 'map': {
      if (!isObject(v)) fail('WRONG_TYPE', path, want);
      const keys = Object.keys(v).sort(byteOrder);
      if (keys.length < spec.min) fail('TOO_SHORT', path, want);
      if (keys.length > spec.max) fail('TOO_LONG', path, want);
      for (const key of keys) {
        const at = pointer(path, key);
        const n = Buffer.byteLength(key, 'utf8');
        if (n < spec.key.min || n > spec.key.max || !hasFormat(key, spec.key.format)) {
          fail('BAD_FORMAT', at, `a ${spec.key.format} key of ${spec.key.min}..${spec.key.max} bytes`);
        }
        checkValue(v[key], spec.values, at);
      }
      return;
    }
  }
}

function checkFields(v: Record<string, unknown>, fields: readonly Field[], path: string): void {
  for (const field of fields) {
    if (!Object.hasOwn(v, field.name)) {
      if (field.required) fail('MISSING_FIELD', pointer(path, field.name), field.spec);
      continue;
    }
    checkValue(v[field.name], field.spec, pointer(path, field.name));
  }
  let unknown: string | undefined;
  for (const key in v) {
    if ((path === '' && key === 'type') || fields.some((f) => f.name === key)) continue;
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
    const types = MESSAGE_SCHEMAS.map((s) => s.type).join(', ');
    if (!Object.hasOwn(value, 'type')) fail('MISSING_FIELD', '/type', `a message type (${types})`);
    const type = value.type;
    if (typeof type !== 'string') fail('WRONG_TYPE', '/type', `a string, one of ${types}`);
    const schema = BY_TYPE.get(type);
    if (!schema) fail('UNKNOWN_TYPE', '/type', `one of ${types}`);
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
    value = JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch {
    return { ok: false, error: { code: 'INVALID_JSON', path: '', expected: 'one JSON object' } };
  }
  return validateValue(value, from);
}

export function formatValidationError(error: ValidationError): string {
  return `${error.code} at ${error.path === '' ? '(message)' : error.path}: expected ${error.expected}`;
}
