/**
 * Writes the C table the firmware validates kiln.v1 messages with
 * (firmware/components/kiln_protocol/src/kiln_message_schema.gen.c) from
 * MESSAGE_SCHEMAS, so the contract is written once, in protocol/src/messages/schemas.ts.
 *
 *   npx tsx protocol/scripts/generate-c-schema.ts          regenerate the file
 *   npx tsx protocol/scripts/generate-c-schema.ts --check  exit 1 if the committed file is stale (CI)
 *
 * Bounds are emitted as exact double literals ("4294967295.0"): cJSON numbers are
 * doubles, and every integer up to 2^53 - 1 is exact as one, so C compares as JS does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MESSAGE_SCHEMAS } from '../src/messages/schemas.ts';
import type { Field, FieldSpec, MessageSchema, Sender, StringFormat } from '../src/messages/spec.ts';

const OUTPUT = fileURLToPath(
  new URL('../../firmware/components/kiln_protocol/src/kiln_message_schema.gen.c', import.meta.url),
);
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Must match KILN_MESSAGE_MAP_MAX in kiln_message.h: the C validator sorts map keys on the stack. */
const C_MAP_MAX = 64;

const FORMATS: Record<StringFormat, string> = {
  deviceId: 'KILN_FORMAT_DEVICE_ID',
  hex: 'KILN_FORMAT_HEX',
  mac: 'KILN_FORMAT_MAC',
  metricName: 'KILN_FORMAT_METRIC_NAME',
  token: 'KILN_FORMAT_TOKEN',
  text: 'KILN_FORMAT_TEXT',
};

const SENDERS: Record<Sender, string> = {
  device: 'KILN_SCHEMA_FROM_DEVICE',
  gateway: 'KILN_SCHEMA_FROM_GATEWAY',
  both: 'KILN_SCHEMA_FROM_BOTH',
};

/** A bound as a C double literal that is exactly the same number. */
function exact(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) {
    throw new Error(`${what}: bound ${n} is not an integer a double holds exactly`);
  }
  return `${n}.0`;
}

/** A C string literal; schema names and enumerations are printable ASCII. */
function cString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s) || s.includes('?')) {
    throw new Error(`${JSON.stringify(s)} is not plain printable ASCII`);
  }
  return JSON.stringify(s);
}

function identifier(parts: readonly string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
}

/** Emits definitions bottom-up (a static must be defined before it is referenced). */
class Emitter {
  readonly lines: string[] = [];

  spec(spec: FieldSpec, path: readonly string[]): string {
    const name = identifier(['spec', ...path]);
    const where = path.join('.');
    const members: string[] = [];
    switch (spec.kind) {
      case 'integer':
        members.push(
          '.kind = KILN_FIELD_INTEGER',
          `.min = ${exact(spec.min, where)}`,
          `.max = ${exact(spec.max, where)}`,
        );
        break;
      case 'number':
        members.push('.kind = KILN_FIELD_NUMBER');
        break;
      case 'string': {
        members.push(
          '.kind = KILN_FIELD_STRING',
          `.min = ${exact(spec.min, where)}`,
          `.max = ${exact(spec.max, where)}`,
        );
        if (spec.format) members.push(`.format = ${FORMATS[spec.format]}`);
        if (spec.oneOf) {
          const list = identifier(['one_of', ...path]);
          this.lines.push(`static const char *const ${list}[] = {${spec.oneOf.map(cString).join(', ')}};`);
          members.push(`.one_of = ${list}`, `.one_of_count = ${spec.oneOf.length}`);
        }
        break;
      }
      case 'object': {
        const fields = this.fields(spec.fields, path);
        members.push('.kind = KILN_FIELD_OBJECT', `.fields = ${fields}`, `.field_count = ${spec.fields.length}`);
        break;
      }
      case 'freeObject':
        members.push('.kind = KILN_FIELD_FREE_OBJECT');
        break;
      case 'array': {
        const items = this.spec(spec.items, [...path, 'item']);
        members.push(
          '.kind = KILN_FIELD_ARRAY',
          `.min = ${exact(spec.min, where)}`,
          `.max = ${exact(spec.max, where)}`,
          `.items = &${items}`,
        );
        break;
      }
      case 'map': {
        if (spec.max > C_MAP_MAX) {
          throw new Error(`${where}: a map of up to ${spec.max} entries; the C validator sorts at most ${C_MAP_MAX}`);
        }
        const values = this.spec(spec.values, [...path, 'value']);
        members.push(
          '.kind = KILN_FIELD_MAP',
          `.min = ${exact(spec.min, where)}`,
          `.max = ${exact(spec.max, where)}`,
          `.format = ${FORMATS[spec.key.format]}`,
          `.key_min = ${exact(spec.key.min, where)}`,
          `.key_max = ${exact(spec.key.max, where)}`,
          `.items = &${values}`,
        );
        break;
      }
    }
    this.lines.push(`static const kiln_field_spec_t ${name} = {${members.join(', ')}};`);
    return name;
  }

  /** The field array's name, or NULL for none. */
  fields(fields: readonly Field[], path: readonly string[]): string {
    if (fields.length === 0) return 'NULL';
    const entries = fields.map((f) => {
      const spec = this.spec(f.spec, [...path, f.name]);
      return `    {${cString(f.name)}, ${f.required}, &${spec}},`;
    });
    const name = identifier(['fields', ...path]);
    this.lines.push(`static const kiln_field_t ${name}[] = {`, ...entries, '};');
    return name;
  }
}

export function generateCSchema(schemas: readonly MessageSchema[]): string {
  const emitter = new Emitter();
  const table = schemas.map((schema) => {
    emitter.lines.push('', `/* ${schema.type} (from ${schema.from}) */`);
    const fields = emitter.fields(schema.fields, [schema.type]);
    return `    {${cString(schema.type)}, ${SENDERS[schema.from]}, ${fields}, ${schema.fields.length}},`;
  });
  return [
    '/*',
    ' * DO NOT EDIT: generated by protocol/scripts/generate-c-schema.ts from',
    ' * protocol/src/messages/schemas.ts (SPEC.md §1.3). Regenerate with',
    ' *   npx tsx protocol/scripts/generate-c-schema.ts',
    ' */',
    '#include "kiln_message_schema.h"',
    ...emitter.lines,
    '',
    'const kiln_message_schema_t kiln_message_schemas[] = {',
    ...table,
    '};',
    '',
    `const size_t kiln_message_schema_count = ${schemas.length};`,
    '',
  ].join('\n');
}

function main(argv: readonly string[]): number {
  const generated = generateCSchema(MESSAGE_SCHEMAS);
  const shown = relative(REPO_ROOT, OUTPUT);
  if (argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(OUTPUT, 'utf8');
    } catch {
      committed = '';
    }
    if (committed !== generated) {
      console.error(
        `${shown} is out of date with protocol/src/messages/schemas.ts.\n` +
          'Run: npx tsx protocol/scripts/generate-c-schema.ts, then commit the result.',
      );
      return 1;
    }
    console.log(`${shown} is up to date.`);
    return 0;
  }
  writeFileSync(OUTPUT, generated);
  console.log(`wrote ${shown}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
