/**
 * The field-spec language the kiln.v1 message schemas are written in.
 *
 * It is plain data on purpose: the TypeScript validator interprets it, and
 * `protocol/scripts/generate-c-schema.ts` turns the same data into the C table
 * the firmware validates with, so the contract is written once (SPEC.md §1.3-1.5).
 * A hand-written checker instead of a schema library because its order of checks
 * and its error codes are part of the contract that C must reproduce exactly.
 */

export const STRING_FORMATS = ['deviceId', 'hex', 'mac', 'metricName', 'token', 'text'] as const;
export type StringFormat = (typeof STRING_FORMATS)[number];

export type FieldSpec =
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'number' }
  | {
      readonly kind: 'string';
      readonly min: number;
      readonly max: number;
      readonly format?: StringFormat;
      readonly oneOf?: readonly string[];
    }
  | { readonly kind: 'object'; readonly fields: readonly Field[] }
  | { readonly kind: 'freeObject' }
  | { readonly kind: 'array'; readonly min: number; readonly max: number; readonly items: FieldSpec }
  | {
      readonly kind: 'map';
      readonly min: number;
      readonly max: number;
      readonly key: { readonly min: number; readonly max: number; readonly format: StringFormat };
      readonly values: FieldSpec;
    };

export interface Field {
  readonly name: string;
  readonly required: boolean;
  readonly spec: FieldSpec;
}

export type Sender = 'device' | 'gateway' | 'both';

export interface MessageSchema {
  readonly type: string;
  readonly from: Sender;
  /** Declared fields in check order; `seq` is always first. `type` is implied. */
  readonly fields: readonly Field[];
}

export const req = (name: string, spec: FieldSpec): Field => ({ name, required: true, spec });
export const opt = (name: string, spec: FieldSpec): Field => ({ name, required: false, spec });
export const int = (min: number, max: number): FieldSpec => ({ kind: 'integer', min, max });
export const str = (min: number, max: number, format?: StringFormat): FieldSpec =>
  format ? { kind: 'string', min, max, format } : { kind: 'string', min, max };
export const oneOf = (values: readonly string[]): FieldSpec => ({
  kind: 'string',
  min: 1,
  max: Math.max(...values.map((v) => Buffer.byteLength(v))),
  oneOf: values,
});
export const obj = (...fields: Field[]): FieldSpec => ({ kind: 'object', fields });
export const arr = (min: number, max: number, items: FieldSpec): FieldSpec => ({
  kind: 'array',
  min,
  max,
  items,
});
