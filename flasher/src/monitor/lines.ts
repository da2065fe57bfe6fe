/**
 * The monitor's pure line processing: bytes in, lines out, each filtered (filter.ts),
 * coloured by level, timestamped, and marked when it belongs to a panic block
 * (panic.ts), with decoded addresses under it. What goes to the log file is the same
 * text without colours. No I/O here: the caller writes, and decides when to flush a
 * partial line (a prompt with no newline yet).
 */
import { LineFilter, parseLogLine } from './filter.ts';
import { codeAddresses, PanicDetector } from './panic.ts';

export const COLOR = {
  E: '\x1b[0;31m',
  W: '\x1b[0;33m',
  I: '\x1b[0;32m',
  panic: '\x1b[1;37;41m',
  decoded: '\x1b[0;33m',
  reset: '\x1b[0m',
};
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

export interface LineOptions {
  filter?: string;
  timestamps?: boolean;
  color?: boolean;
  /** addr2line: code address → "function at file:line"; undefined when unknown. */
  decode?: (addresses: string[]) => Map<string, string>;
  now?: () => Date;
}

export interface Rendered {
  /** For the terminal (colours when enabled), newline included. */
  screen: string;
  /** For --log: the same without colours. */
  log: string;
}

export function formatTimestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export class LineProcessor {
  timestamps: boolean;
  readonly #filter: LineFilter;
  readonly #color: boolean;
  readonly #decode: LineOptions['decode'];
  readonly #now: () => Date;
  readonly #panic = new PanicDetector();
  #partial = '';
  /** How much of #partial was already shown by flushPartial. */
  #shown = 0;
  readonly #decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(options: LineOptions = {}) {
    this.#filter = new LineFilter(options.filter);
    this.timestamps = options.timestamps ?? false;
    this.#color = options.color ?? false;
    this.#decode = options.decode;
    this.#now = options.now ?? (() => new Date());
  }

  /** Feeds received bytes; returns what to print for each complete line. */
  push(chunk: Uint8Array): Rendered[] {
    this.#partial += this.#decoder.decode(chunk, { stream: true });
    const out: Rendered[] = [];
    let nl = this.#partial.indexOf('\n');
    while (nl >= 0) {
      const line = this.#partial.slice(0, nl).replace(/\r$/, '');
      const shown = this.#shown;
      this.#partial = this.#partial.slice(nl + 1);
      this.#shown = 0;
      out.push(...this.#line(line, shown));
      nl = this.#partial.indexOf('\n');
    }
    return out;
  }

  /** A line still without its newline (a prompt): shows what has not been shown yet. */
  flushPartial(): Rendered | undefined {
    const rest = this.#partial.slice(this.#shown);
    if (!rest || !this.#filter.match(this.#partial)) return undefined;
    const first = this.#shown === 0;
    this.#shown = this.#partial.length;
    const stamp = first && this.timestamps ? `${formatTimestamp(this.#now())} ` : '';
    return {
      screen: `${stamp}${this.#color ? rest : rest.replace(ANSI, '')}`,
      log: `${stamp}${rest.replace(ANSI, '')}`,
    };
  }

  #line(line: string, alreadyShown: number): Rendered[] {
    const mark = this.#panic.feed(line);
    if (!mark && !this.#filter.match(line)) return alreadyShown ? [{ screen: '\n', log: '\n' }] : [];
    const plain = line.replace(ANSI, '');
    const stamp = this.timestamps && alreadyShown === 0 ? `${formatTimestamp(this.#now())} ` : '';
    const text = alreadyShown ? line.slice(alreadyShown) : line;
    const plainText = alreadyShown ? plain.slice(Math.min(alreadyShown, plain.length)) : plain;
    let screen: string;
    if (!this.#color) screen = plainText;
    else if (mark) screen = `${COLOR.panic}${plainText}${COLOR.reset}`;
    else if (text !== plainText) screen = text.endsWith(COLOR.reset) ? text : `${text}${COLOR.reset}`;
    else {
      const level = parseLogLine(line)?.level;
      const c = level === 'E' || level === 'W' || level === 'I' ? COLOR[level] : undefined;
      screen = c ? `${c}${text}${COLOR.reset}` : text;
    }
    const out: Rendered[] = [{ screen: `${stamp}${screen}\n`, log: `${stamp}${plainText}\n` }];
    if (mark === 'start') {
      const banner = '--- panic: the chip crashed; the block ends at "ELF file SHA256:" or "Rebooting..." ---';
      out.unshift({
        screen: `${this.#color ? COLOR.panic : ''}${banner}${this.#color ? COLOR.reset : ''}\n`,
        log: `${banner}\n`,
      });
    }
    if (mark && this.#decode) {
      const addresses = codeAddresses(plain);
      const decoded = addresses.length ? this.#decode(addresses) : new Map<string, string>();
      for (const a of addresses) {
        const where = decoded.get(a);
        if (!where) continue;
        const t = `  ${a}: ${where}`;
        out.push({
          screen: `${this.#color ? COLOR.decoded : ''}${t}${this.#color ? COLOR.reset : ''}\n`,
          log: `${t}\n`,
        });
      }
    }
    return out;
  }
}
