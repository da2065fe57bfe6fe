/**
 * Partition table CSV ↔ partitions, with the rules of ESP-IDF's gen_esp32part.py
 * (formats.md §3): `#` comments, `$VAR` expansion, K/M suffixes, keyword or numeric
 * types and subtypes, blank offsets placed after the previous partition and aligned
 * per type, flags `encrypted:readonly`; then PartitionTable.verify's checks. Messages
 * keep gen_esp32part's wording, prefixed with the CSV line.
 */
import { UsageError } from '../errors.ts';
import {
  FLAGS,
  PARTITION_TABLE_OFFSET,
  type Partition,
  SUBTYPES,
  subtypeName,
  TYPES,
  typeName,
} from './partition-table.ts';

const APP = TYPES.app as number;
const DATA = TYPES.data as number;
const BOOTLOADER = TYPES.bootloader as number;
const TABLE = TYPES.partition_table as number;
/** gen_esp32part's PARTITION_TABLE_SIZE: the table's whole sector. */
const TABLE_SECTOR = 0x1000;
const ALIGNMENT: Readonly<Record<number, number>> = {
  [APP]: 0x10000,
  [DATA]: 0x1000,
  [BOOTLOADER]: 0x1000,
  [TABLE]: 0x1000,
};
const NVS_RW_MIN_SIZE = 0x3000;

export interface CsvOptions {
  /** Where the table goes (gen_esp32part --offset); default 0x8000. */
  tableOffset?: number;
  /** Refuse a table that does not fit in this much flash (gen_esp32part --flash-size). */
  flashSize?: number;
  /** Where the primary bootloader goes, for `bootloader` rows (--primary-bootloader-offset). */
  bootloaderOffset?: number;
  /** $VAR values; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface CsvResult {
  partitions: Partition[];
  /** gen_esp32part's non-fatal complaints (a name that is another type's keyword…). */
  warnings: string[];
}

const bad = (line: number | undefined, message: string) =>
  new UsageError('PARTITION_CSV_INVALID', line === undefined ? message : `CSV line ${line}: ${message}`, {
    hint: 'columns are Name, Type, SubType, Offset, Size, Flags (docs: partition-tables in the ESP-IDF guide)',
  });

/** gen_esp32part parse_int: int(x, 0), k/m suffixes, else a keyword. */
export function parseCsvInt(text: string, keywords: Readonly<Record<string, number>> = {}, line?: number): number {
  const last = text.slice(-1).toLowerCase();
  if (text.length > 1 && (last === 'k' || last === 'm')) {
    return parseCsvInt(text.slice(0, -1), keywords, line) * (last === 'k' ? 1024 : 1024 * 1024);
  }
  const m = /^([+-]?)(0x[0-9a-f_]+|0o[0-7_]+|0b[01_]+|0|[1-9][0-9_]*)$/i.exec(text);
  if (m?.[2]) {
    const digits = m[2].replace(/_/g, '');
    const n = /^0o/i.test(digits) ? Number.parseInt(digits.slice(2), 8) : Number(digits);
    return m[1] === '-' ? -n : n;
  }
  if (Object.keys(keywords).length === 0) throw bad(line, `Invalid field value ${text}`);
  const v = keywords[text.toLowerCase()];
  if (v === undefined)
    throw bad(line, `Value '${text}' is not valid. Known keywords: ${Object.keys(keywords).join(', ')}`);
  return v;
}

function expandVars(text: string, env: Readonly<Record<string, string | undefined>>, line: number): string {
  const out = text.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith('{') ? name.slice(1, -1) : name;
    return env[key] ?? whole;
  });
  const unknown = /(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)/.exec(out);
  if (unknown) throw bad(line, `unknown variable '${unknown[1]}'`);
  return out;
}

interface Row extends Omit<Partition, 'offset' | 'size'> {
  offset: number | undefined;
  size: number;
  line: number;
}

/** gen_esp32part PartitionTable.from_csv, then verify(). */
export function parsePartitionCsv(text: string, options: CsvOptions = {}): CsvResult {
  const tableOffset = options.tableOffset ?? PARTITION_TABLE_OFFSET;
  const env = options.env ?? process.env;
  const rows: Row[] = [];
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = expandVars(raw, env, i + 1).trim();
    if (line.startsWith('#') || line.length === 0) return;
    rows.push(parseRow(line, i + 1, tableOffset, options.bootloaderOffset));
  });
  let lastEnd = tableOffset + TABLE_SECTOR;
  for (const [i, e] of rows.entries()) {
    if ((e.type === BOOTLOADER || e.type === TABLE) && e.subtype === 0) continue;
    if (e.offset !== undefined && e.offset < lastEnd) {
      throw bad(
        e.line,
        i === 0
          ? `Partitions overlap. Partition sets offset 0x${hex(e.offset)}. But partition table occupies the whole sector 0x${hex(tableOffset)}. Use a free offset 0x${hex(lastEnd)} or higher.`
          : `Partitions overlap. Partition sets offset 0x${hex(e.offset)}. Previous partition ends 0x${hex(lastEnd)}`,
      );
    }
    if (e.offset === undefined) {
      const align = ALIGNMENT[e.type] ?? 0x1000;
      if (lastEnd % align !== 0) lastEnd += align - (lastEnd % align);
      e.offset = lastEnd;
    }
    if (e.size < 0) e.size = -e.size - e.offset;
    lastEnd = e.offset + e.size;
  }
  const partitions = rows.map((r) => ({ ...r, offset: r.offset as number }));
  const warnings = verify(partitions, tableOffset);
  if (options.flashSize !== undefined) {
    const end = Math.max(0, ...partitions.map((p) => p.offset + p.size));
    if (end > options.flashSize) {
      throw bad(
        undefined,
        `Partitions tables occupies ${(end / 1048576).toFixed(1)}MB of flash (${end} bytes) which does not fit in configured flash size ${options.flashSize / 1048576}MB.`,
      );
    }
  }
  return { partitions: partitions.map(({ line: _line, ...p }) => p), warnings };
}

function parseRow(line: string, n: number, tableOffset: number, bootloaderOffset: number | undefined): Row {
  const f = `${line},,,,`.split(',').map((x) => x.trim());
  const [label = '', typeText = '', subText = '', offText = '', sizeText = '', flagText = ''] = f;
  if (label.length === 0) throw bad(n, 'a partition needs a name');
  if (Buffer.byteLength(label) > 16) throw bad(n, `name '${label}' is longer than 16 bytes`);
  if (typeText === '') throw bad(n, "Field 'type' can't be left empty.");
  const type = parseCsvInt(typeText, TYPES, n);
  if (type < 0 || type > 0xfe) throw bad(n, `type ${type} is out of range (0..254)`);
  let subtype: number;
  if (subText === '') {
    if (type === APP) throw bad(n, 'App partition cannot have an empty subtype');
    subtype = SUBTYPES[DATA]?.undefined ?? 6;
  } else subtype = parseCsvInt(subText, SUBTYPES[type] ?? {}, n);
  if (subtype < 0 || subtype > 0xfe) throw bad(n, `subtype ${subtype} is out of range (0..254)`);
  let offset: number | undefined = offText === '' ? undefined : parseCsvInt(offText, {}, n);
  let size: number | undefined = sizeText === '' ? undefined : parseCsvInt(sizeText, {}, n);
  if (type === BOOTLOADER || (type === TABLE && subtype === 0)) {
    if (type === BOOTLOADER) {
      if (bootloaderOffset === undefined)
        throw bad(n, 'Primary bootloader offset is not defined. Please use --primary-bootloader-offset');
      if (subtype === 0) offset = bootloaderOffset;
      size = tableOffset - bootloaderOffset;
    } else {
      offset = tableOffset;
    }
  }
  if (type === TABLE) size = TABLE_SECTOR;
  if (size === undefined) throw bad(n, "Size field can't be empty");
  const flags = { encrypted: false, readonly: false };
  for (const flag of flagText.split(':')) {
    if (flag in FLAGS) flags[flag as keyof typeof FLAGS] = true;
    else if (flag.length > 0) throw bad(n, `CSV flag column contains unknown flag '${flag}'`);
  }
  return { label, type, subtype, offset, size, ...flags, line: n };
}

/** gen_esp32part PartitionDefinition.verify and PartitionTable.verify. */
function verify(partitions: readonly (Partition & { line: number })[], tableOffset: number): string[] {
  const warnings: string[] = [];
  const allSubtypeNames = new Set(Object.values(SUBTYPES).flatMap((t) => Object.keys(t)));
  for (const p of partitions) {
    const align = ALIGNMENT[p.type] ?? 0x1000;
    if (p.offset % align) throw bad(p.line, `Offset 0x${hex(p.offset)} is not aligned to 0x${hex(align)}`);
    if (p.type === APP && p.size % 0x1000) throw bad(p.line, `Size 0x${hex(p.size)} is not aligned to 0x1000`);
    if (p.label in TYPES && TYPES[p.label] !== p.type) {
      warnings.push(
        `Partition has name '${p.label}' which is a partition type, but does not match this partition's type (0x${hex(p.type)}). Mistake in partition table?`,
      );
    }
    if (allSubtypeNames.has(p.label) && SUBTYPES[p.type]?.[p.label] !== p.subtype) {
      warnings.push(
        `Partition has name '${p.label}' which is a partition subtype, but this partition has non-matching type 0x${hex(p.type)} and subtype 0x${hex(p.subtype)}. Mistake in partition table?`,
      );
    }
    if (p.type === DATA && (p.subtype === 0x00 || p.subtype === 0x03) && p.readonly) {
      throw bad(
        p.line,
        `'${p.label}' partition of type ${p.type} and subtype ${p.subtype} is always read-write and cannot be read-only`,
      );
    }
    if (p.type === DATA && p.subtype === 0x02 && p.size < NVS_RW_MIN_SIZE && !p.readonly) {
      throw bad(
        p.line,
        `'${p.label}' partition of type ${p.type} and subtype ${p.subtype} of this size (0x${hex(p.size)}) must be flagged as 'readonly' (the size of read/write NVS has to be at least 0x${hex(NVS_RW_MIN_SIZE)})`,
      );
    }
  }
  const seen = new Map<string, number>();
  for (const p of partitions) {
    const first = seen.get(p.label);
    if (first !== undefined) throw bad(p.line, `Partition names must be unique: '${p.label}' is also on line ${first}`);
    seen.set(p.label, p.line);
  }
  let last: Partition | undefined;
  for (const p of [...partitions].sort((a, b) => a.offset - b.offset)) {
    const primary = (p.type === BOOTLOADER || p.type === TABLE) && p.subtype === 0;
    if (p.offset < tableOffset + TABLE_SECTOR && !primary) {
      throw bad(undefined, `Partition offset 0x${hex(p.offset)} is below 0x${hex(tableOffset + TABLE_SECTOR)}`);
    }
    if (last && p.offset < last.offset + last.size) {
      throw bad(
        undefined,
        `Partition at 0x${hex(p.offset)} overlaps 0x${hex(last.offset)}-0x${hex(last.offset + last.size - 1)}`,
      );
    }
    last = p;
  }
  const otadata = partitions.filter((p) => p.type === DATA && p.subtype === 0x00);
  if (otadata.length > 1) {
    throw bad(
      undefined,
      'Found multiple otadata partitions. Only one partition can be defined with type="data"(1) and subtype="ota"(0).',
    );
  }
  if (otadata.length === 1 && otadata[0]?.size !== 0x2000)
    throw bad(otadata[0]?.line, 'otadata partition must have size = 0x2000');
  return warnings;
}

/**
 * gen_esp32part PartitionTable.to_csv: keywords where known, sizes in K/M when they
 * divide. `aligned` pads the columns for people; the CSV reads back the same either way.
 */
export function formatPartitionCsv(partitions: readonly Partition[], options: { aligned?: boolean } = {}): string {
  const size = (a: number) =>
    a % 0x100000 === 0 ? `${a / 0x100000}M` : a % 0x400 === 0 ? `${a / 0x400}K` : `0x${hex(a)}`;
  const rows = partitions.map((p) => [
    p.label,
    typeName(p.type),
    subtypeName(p.type, p.subtype),
    `0x${hex(p.offset)}`,
    size(p.size),
    (Object.keys(FLAGS) as (keyof typeof FLAGS)[]).filter((f) => p[f]).join(':'),
  ]);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length + 1)));
  const line = (r: string[]) =>
    options.aligned
      ? r
          .map((c, i) => (i < 5 ? `${c},`.padEnd((widths[i] ?? 0) + 1) : c))
          .join(' ')
          .trimEnd()
      : r.join(',');
  return `${['# ESP-IDF Partition Table', '# Name, Type, SubType, Offset, Size, Flags', ...rows.map(line)].join('\n')}\n`;
}

const hex = (n: number) => n.toString(16);
