/**
 * `kiln monitor` (issue 4, Deliver 6), on the model of esp-idf-monitor: the board's
 * console through monitor/lines.ts, the board reset on start unless told not to, the
 * port reopened when it disappears, and the keys: Ctrl+] quits, Ctrl+T opens the menu
 * (R reset, P reset into the bootloader, Y pause, I timestamps, L log file, H help,
 * X quit, Ctrl+T a literal Ctrl+T); every other byte goes to the board. The keys are
 * read from `input` whether or not it is a terminal.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { addr2lineDecoder } from '../monitor/addr2line.ts';
import { LineProcessor, type Rendered } from '../monitor/lines.ts';
import { ClassicReset, HardReset } from '../reset.ts';
import { createTransport } from '../transport/index.ts';
import type { Transport } from '../transport/types.ts';

export interface MonitorOptions {
  port: string;
  /** Default 115200, the ESP-IDF console rate. */
  baud?: number;
  /** Reset the board on start (default true). */
  reset?: boolean;
  filter?: string;
  timestamps?: boolean;
  color?: boolean;
  /** Append the console (without colours) to this file. */
  log?: string;
  elf?: string;
  addr2line?: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Monitor messages ("--- …"); default to `output`. */
  status?: (text: string) => void;
  /** Between attempts to reopen a lost port; default 500 ms (esp-idf-monitor's). */
  reconnectMs?: number;
  /** Makes the monitor quit (SIGINT). */
  signal?: AbortSignal;
}

const CTRL_T = 0x14;
const CTRL_RBRACKET = 0x1d;
export const MONITOR_HELP = `--- kiln monitor: Ctrl+] quits; Ctrl+T then:
---   R (or Ctrl+R)  reset the board (run the app)
---   P (or Ctrl+P)  reset into the bootloader (download mode)
---   Y              pause / resume output
---   I              toggle timestamps
---   L              toggle the log file
---   H (or ?)       this help
---   X (or Ctrl+])  quit
---   Ctrl+T         send a Ctrl+T to the board`;

export async function monitor(options: MonitorOptions): Promise<void> {
  const status = options.status ?? ((t: string) => options.output.write(`${t}\n`));
  const processor = new LineProcessor({
    filter: options.filter,
    timestamps: options.timestamps,
    color: options.color,
    decode: options.elf && options.addr2line ? addr2lineDecoder(options.addr2line, options.elf) : undefined,
  });
  const baud = options.baud ?? 115200;
  const logFile: WriteStream | undefined = options.log ? createWriteStream(options.log, { flags: 'a' }) : undefined;
  let logging = logFile !== undefined;
  let paused = false;
  let menu = false;
  let quitting = false;
  let transport: Transport = createTransport(options.port);
  let partialTimer: NodeJS.Timeout | undefined;
  let quit: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    quit = () => {
      quitting = true;
      resolve();
    };
  });

  const emit = (r: Rendered) => {
    if (!paused) options.output.write(r.screen);
    if (logging) logFile?.write(r.log);
  };
  const onData = (chunk: Uint8Array) => {
    for (const r of processor.push(chunk)) emit(r);
    clearTimeout(partialTimer);
    partialTimer = setTimeout(() => {
      const r = processor.flushPartial();
      if (r) emit(r);
    }, 100);
  };
  const attach = (t: Transport) => {
    t.onData(onData);
    t.onClose((error) => {
      if (quitting) return;
      status(`--- ${options.port} disappeared${error ? ` (${error.message})` : ''}; reconnecting…`);
      void reconnect();
    });
  };
  const reconnect = async () => {
    while (!quitting) {
      await new Promise((r) => setTimeout(r, options.reconnectMs ?? 500));
      if (quitting) return;
      const next = createTransport(options.port);
      try {
        await next.open(baud);
      } catch {
        continue;
      }
      if (quitting) {
        await next.close().catch(() => {});
        return;
      }
      transport = next;
      attach(next);
      status(`--- reconnected to ${options.port}`);
      return;
    }
  };
  const resetBoard = async (into: 'app' | 'bootloader') => {
    if (!transport.canSetLines) {
      status(`--- ${options.port} has no DTR/RTS lines: press the board's RESET button`);
      return;
    }
    status(into === 'app' ? '--- resetting the board' : '--- resetting into the bootloader');
    await (into === 'app' ? new HardReset(transport) : new ClassicReset(transport)).reset();
  };
  const command = async (key: number) => {
    const k = String.fromCharCode(key).toLowerCase();
    if (k === 'r' || key === 0x12) await resetBoard('app');
    else if (k === 'p' || key === 0x10) await resetBoard('bootloader');
    else if (k === 'y') {
      paused = !paused;
      status(paused ? '--- output paused (Ctrl+T Y resumes)' : '--- output resumed');
    } else if (k === 'i') {
      processor.timestamps = !processor.timestamps;
      status(`--- timestamps ${processor.timestamps ? 'on' : 'off'}`);
    } else if (k === 'l') {
      if (!logFile) status('--- no log file: start with --log FILE');
      else {
        logging = !logging;
        status(`--- logging to ${options.log} ${logging ? 'on' : 'off'}`);
      }
    } else if (k === 'h' || k === '?' || key === 0x08) status(MONITOR_HELP);
    else if (k === 'x' || key === 0x18 || key === CTRL_RBRACKET) quit();
    else if (key === CTRL_T) await transport.write(Uint8Array.of(CTRL_T));
    else status(`--- unknown menu key 0x${key.toString(16)}; Ctrl+T H for help`);
  };
  // Keys are handled one after another, in order, even when a reset takes a while.
  let keys = Promise.resolve();
  const onInput = (data: Buffer | string) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    keys = keys.then(async () => {
      let pass: number[] = [];
      const flush = async () => {
        if (pass.length && transport.isOpen) await transport.write(Uint8Array.from(pass)).catch(() => {});
        pass = [];
      };
      for (const b of bytes) {
        if (quitting) return;
        if (menu) {
          menu = false;
          await flush();
          await command(b).catch((e: unknown) => status(`--- ${(e as Error).message}`));
        } else if (b === CTRL_RBRACKET) {
          await flush();
          quit();
        } else if (b === CTRL_T) menu = true;
        else pass.push(b);
      }
      await flush();
    });
  };

  await transport.open(baud);
  attach(transport);
  const raw = 'setRawMode' in options.input && (options.input as NodeJS.ReadStream).isTTY;
  if (raw) (options.input as NodeJS.ReadStream).setRawMode(true);
  options.input.on('data', onInput);
  options.input.resume?.();
  const onAbort = () => quit();
  options.signal?.addEventListener('abort', onAbort);
  status(`--- kiln monitor on ${options.port} at ${baud} | Quit: Ctrl+] | Menu: Ctrl+T | Help: Ctrl+T H ---`);
  try {
    if (options.reset ?? true) await resetBoard('app');
    await finished;
  } finally {
    quitting = true;
    clearTimeout(partialTimer);
    options.signal?.removeEventListener('abort', onAbort);
    options.input.off('data', onInput);
    options.input.pause?.();
    if (raw) (options.input as NodeJS.ReadStream).setRawMode(false);
    const r = processor.flushPartial();
    if (r) emit(r);
    await transport.close().catch(() => {});
    if (logFile) await new Promise<void>((resolve) => logFile.end(resolve));
  }
}
