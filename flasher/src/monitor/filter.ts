/**
 * esp-idf-monitor's `--print_filter` (its LineMatcher; gateway-hil.md §6): space-separated
 * `tag:level` items, levels N E W I D V (`*` and empty mean V), a bare `tag` means V,
 * `*` is every other tag. An empty filter prints everything; lines that are not ESP_LOG
 * lines are printed only when `*` is above N.
 */
import { UsageError } from '../errors.ts';

export const LEVELS = { N: 0, E: 1, W: 2, I: 3, D: 4, V: 5 } as const;
export type LogLevel = 'E' | 'W' | 'I' | 'D' | 'V';

/** An ESP_LOG line: optional colour, `L (time) tag: `; time is ms or, with CONFIG_LOG_TIMESTAMP_SOURCE_SYSTEM, hh:mm:ss.mmm. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC opens the colour code esp-idf-monitor's regex allows
const LOG_LINE = /^(?:\x1b\[[01];?[0-9]+m?)?([EWIDV]) \(([0-9]+|[0-9:.]+)\) ([^:]+): /;

export interface LogLine {
  level: LogLevel;
  tag: string;
}

export function parseLogLine(line: string): LogLine | undefined {
  const m = LOG_LINE.exec(line);
  return m?.[1] && m[3] ? { level: m[1] as LogLevel, tag: m[3] } : undefined;
}

export class LineFilter {
  readonly #levels = new Map<string, number>();

  constructor(filter = '') {
    const items = filter.split(/\s+/).filter(Boolean);
    if (items.length === 0) this.#levels.set('*', LEVELS.V);
    for (const item of items) {
      const parts = item.split(':');
      let level: number = LEVELS.V;
      if (parts.length === 2) {
        if (!parts[0]) throw filterError(`no tag in filter '${item}'`);
        const name = (parts[1] ?? '').toUpperCase();
        const found = name === '' || name === '*' ? LEVELS.V : LEVELS[name as keyof typeof LEVELS];
        if (found === undefined) throw filterError(`unknown log level in filter '${item}'`);
        level = found;
      } else if (parts.length > 2) {
        throw filterError(`too many ':' in filter '${item}'`);
      }
      this.#levels.set(parts[0] ?? '', level);
    }
  }

  /** Whether esp-idf-monitor would print this line. */
  match(line: string): boolean {
    const log = parseLogLine(line);
    const star = this.#levels.get('*') ?? LEVELS.N;
    if (!log) return star > LEVELS.N;
    return (this.#levels.get(log.tag) ?? star) >= LEVELS[log.level];
  }
}

function filterError(message: string): UsageError {
  return new UsageError('MONITOR_FILTER_INVALID', message, {
    hint: "write TAG:LEVEL items separated by spaces, LEVEL one of N E W I D V; e.g. --filter 'wifi:W *:I'",
  });
}
