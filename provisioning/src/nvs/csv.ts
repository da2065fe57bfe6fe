/**
 * The NVS CSV (nvs_partition_gen / mfg_gen): header `key,type,encoding,value`, then
 * one row per namespace, data item or file. Read the way the generator reads it:
 * physical lines starting with '#' are dropped first (even inside a quoted field),
 * then Python's csv module (excel dialect, non-strict: `"a"b` is `ab`, a stray quote
 * inside an unquoted field is literal), blank lines skipped. Every row keeps the
 * line it starts on, for errors.
 */
import { UsageError } from '@kiln/protocol';

export interface NvsCsvRow {
  /** 1-based line in the file where the row starts. */
  line: number;
  key: string;
  type: string;
  encoding: string;
  /** undefined when the row has fewer than four fields. */
  value: string | undefined;
}

const COLUMNS = ['key', 'type', 'encoding', 'value'] as const;

/** Splits text into fields per record (Python csv, excel dialect), with each record's first line. */
export function readCsvRecords(text: string): { line: number; fields: string[] }[] {
  // Universal newlines (the generator opens the file in text mode), then the '#' filter.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  const kept = lines.map((l, i) => ({ l, n: i + 1 })).filter(({ l }) => !l.startsWith('#'));
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let state: 'start' | 'field' | 'quoted' | 'quote' = 'start';
  let started = 0;
  let quoteLine = 0;
  for (const { l, n } of kept) {
    if (state !== 'quoted') started = n;
    for (const ch of l) {
      if (state === 'start') {
        if (ch === '"') {
          state = 'quoted';
          quoteLine = n;
        } else if (ch === ',') fields.push('');
        else {
          field = ch;
          state = 'field';
        }
      } else if (state === 'field') {
        if (ch === ',') {
          fields.push(field);
          field = '';
          state = 'start';
        } else field += ch;
      } else if (state === 'quoted') {
        if (ch === '"') state = 'quote';
        else field += ch;
      } else if (ch === '"') {
        field += '"';
        state = 'quoted';
      } else if (ch === ',') {
        fields.push(field);
        field = '';
        state = 'start';
      } else {
        field += ch;
        state = 'field';
      }
    }
    if (state === 'quoted') {
      field += '\n';
      continue;
    }
    // End of record: an empty line is no record at all.
    if (state !== 'start' || fields.length > 0 || l.length > 0) fields.push(field);
    if (fields.length > 0) records.push({ line: started, fields });
    fields = [];
    field = '';
    state = 'start';
  }
  if (state === 'quoted') {
    throw new UsageError('nvs-csv', `line ${quoteLine}: a quoted field is never closed`, {
      hint: 'close it with " (a quote inside a quoted field is written "")',
    });
  }
  return records;
}

/** The rows of an NVS CSV, with the header checked. */
export function parseNvsCsv(text: string, name = 'CSV'): NvsCsvRow[] {
  const records = readCsvRecords(text.startsWith('\ufeff') ? bomError(name) : text);
  const header = records.shift();
  if (!header) throw new UsageError('nvs-csv', `${name}: empty (no header row)`, { hint: headerHint });
  const at = COLUMNS.map((c) => header.fields.indexOf(c));
  if (at.some((i) => i < 0)) {
    throw new UsageError(
      'nvs-csv',
      `${name} line ${header.line}: header is '${header.fields.join(',')}', needs the columns ${COLUMNS.join(',')}`,
      { hint: headerHint },
    );
  }
  const [k, t, e, v] = at as [number, number, number, number];
  return records.map(({ line, fields }) => ({
    line,
    key: fields[k] ?? '',
    type: fields[t] ?? '',
    encoding: fields[e] ?? '',
    value: fields[v],
  }));
}

const headerHint = "the first line must be 'key,type,encoding,value' (comment lines start with #)";

function bomError(name: string): never {
  throw new UsageError('nvs-csv', `${name}: starts with a UTF-8 byte order mark`, {
    hint: 'save it as UTF-8 without a BOM (esp-idf-nvs-partition-gen fails on it too)',
  });
}
