/**
 * Terminal output and input of the operator commands: aligned tables, times shown as ISO and
 * "ago", and the times and durations a user types (ISO 8601, or relative: 90s, 15m, 1h, 2d).
 */
import { UsageError } from '@kiln/protocol';

export type Cell = string | number | null | undefined;

/** Columns padded to their widest cell; numbers right-aligned; null shown as "-". */
export function table(headers: readonly string[], rows: readonly Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => r[i] == null || typeof r[i] === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...text.map(line)].join('\n')}\n`;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `1h`, `2d` → milliseconds; undefined if it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d|w)$/.exec(text.trim());
  return m ? Number(m[1]) * (UNITS[m[2] as string] as number) : undefined;
}

/** ISO 8601, `now`, milliseconds since the epoch, or a duration meaning that long ago. */
export function parseTime(text: string, flag: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  const ago = parseDuration(t.replace(/^-/, '').replace(/ ago$/, ''));
  if (ago !== undefined) return now - ago;
  if (/^\d{12,16}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError('BAD_TIME', `${flag} "${text}" is not a time`, {
    hint: `give ISO 8601 (2025-01-31T12:00:00Z), "now", or how long ago (30m, 1h, 2d)`,
  });
}

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** "12s ago", "3m ago", "5h ago", "2d ago". */
export function ago(ms: number | null | undefined, now = Date.now()): string | null {
  if (ms === null || ms === undefined) return null;
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** Numbers as a person reads them: at most 6 significant digits, no float noise. */
export function num(v: number | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(6));
}
