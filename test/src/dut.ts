/**
 * A device under test, pytest-embedded style: `expect()` waits for a pattern in the
 * DUT's serial log and consumes the output up to the match, so consecutive expects
 * read forward. The port is opened through the flasher's transports and the bytes are
 * split by provisioning's SerialLink (log lines / Improv / Kiln RPC), so a test can
 * expect log lines while `provision()` speaks Improv and RPC on the same UART.
 * Every log line goes to the DUT's log file with a timestamp.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createTransport, type FlashResult, flash, reset, type Transport } from '@kiln/flasher';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import { type ProvisionOptions, type ProvisionSummary, provision, SerialLink } from '@kiln/provisioning';
import type { ResetMethod } from './bench-file.ts';

export const DEFAULT_TIMEOUT_MS = 30_000;
const TAIL_LINES = 30;
const KEEP_LINES = 500;

export interface ExpectOptions {
  /** Milliseconds; default the DUT's (30 s unless the bench run says otherwise). */
  timeout?: number;
}

export interface DutOptions {
  name: string;
  /** A port the flasher's transports open: a local path, rfc2217:// or socket://. */
  port: string;
  logFile: string;
  reset?: ResetMethod;
  baud?: number;
  timeoutMs?: number;
  /** What `provision()` uses when called without options (the bench's gateway and Wi-Fi). */
  provisionDefaults?: Omit<ProvisionOptions, 'port'>;
}

/** A failed expectation: the pattern, the tail of the DUT's log and where the whole log is. */
export class ExpectError extends KilnError {
  constructor(
    readonly dut: string,
    message: string,
    readonly tail: readonly string[],
    readonly logFile: string,
  ) {
    super('EXPECT_FAILED', `${dut}: ${message}\n${formatTail(dut, tail, logFile)}`, {
      hint: `the whole log of ${dut} is in ${logFile}`,
      exitCode: ExitCode.TESTS_FAILED,
    });
  }
}

export function formatTail(dut: string, tail: readonly string[], logFile: string): string {
  const body = tail.length ? tail.map((l) => `  | ${l}`).join('\n') : '  | (nothing received)';
  return `last ${tail.length} lines of ${dut} (log: ${logFile}):\n${body}`;
}

const show = (p: RegExp | string) => (typeof p === 'string' ? JSON.stringify(p) : String(p));
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const stamp = () => new Date().toISOString().slice(11, 23);

interface Pending {
  re: RegExp;
  done: (m: RegExpExecArray) => void;
}

export class Dut {
  readonly name: string;
  readonly port: string;
  readonly logFile: string;
  timeoutMs: number;
  /** Set by provision(): the id the device is enrolled under. */
  deviceId: string | undefined;
  provisionDefaults: Omit<ProvisionOptions, 'port'> | undefined;
  private transport: Transport | undefined;
  private link: SerialLink | undefined;
  private readonly log: WriteStream;
  /** The last KEEP_LINES lines, timestamped; `dropped` counts those shifted out. */
  private readonly recent: string[] = [];
  private dropped = 0;
  /** Output not yet consumed by an expect (log lines, each ending in \n). */
  private buffer = '';
  private pending: Pending | undefined;
  private readonly reset_: ResetMethod;
  private readonly baud: number;

  private constructor(o: DutOptions) {
    this.name = o.name;
    this.port = o.port;
    this.logFile = o.logFile;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.reset_ = o.reset ?? { kind: 'auto' };
    this.baud = o.baud ?? 115200;
    this.provisionDefaults = o.provisionDefaults;
    mkdirSync(dirname(o.logFile), { recursive: true });
    this.log = createWriteStream(o.logFile, { flags: 'a' });
  }

  /** Opens the DUT's port (DTR and RTS released, so opening does not reset it). */
  static async open(o: DutOptions): Promise<Dut> {
    const dut = new Dut(o);
    try {
      await dut.attach();
    } catch (e) {
      await dut.close();
      throw e;
    }
    return dut;
  }

  private async attach(): Promise<void> {
    const transport = createTransport(this.port);
    try {
      await transport.open(this.baud);
    } catch (e) {
      throw new KilnError('PORT_OPEN', `${this.name}: cannot open ${this.port}: ${(e as Error).message}`, {
        hint: 'check the bench file port, and that no monitor or other run holds it',
        exitCode: ExitCode.PORT,
        cause: e,
      });
    }
    this.transport = transport;
    this.link = new SerialLink(
      { write: (d) => transport.write(d), onData: (l) => transport.onData(l), close: () => transport.close() },
      (line) => this.onLine(line),
    );
    this.note(`port ${this.port} open`);
  }

  private async detach(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    this.transport = undefined;
    if (link) await link.close();
  }

  private note(text: string): void {
    this.log.write(`${stamp()} ---- ${text}\n`);
  }

  private onLine(line: string): void {
    this.log.write(`${stamp()} ${line}\n`);
    this.recent.push(`${stamp()} ${line}`);
    if (this.recent.length > KEEP_LINES) {
      this.recent.shift();
      this.dropped++;
    }
    this.buffer += `${line}\n`;
    if (this.buffer.length > 1 << 20) this.buffer = this.buffer.slice(-(1 << 19));
    this.tryMatch();
  }

  private tryMatch(): void {
    const p = this.pending;
    if (!p) return;
    p.re.lastIndex = 0;
    const m = p.re.exec(this.buffer);
    if (!m) return;
    this.pending = undefined;
    this.buffer = this.buffer.slice(m.index + m[0].length);
    p.done(m);
  }

  /** The last `n` log lines (for messages and reports). */
  tail(n = TAIL_LINES): string[] {
    return this.recent.slice(-n);
  }

  /** A position in the log, for linesSince(). */
  mark(): number {
    return this.dropped + this.recent.length;
  }

  /** The (timestamped) lines received since mark() returned `at` (the last KEEP_LINES at most). */
  linesSince(at: number): string[] {
    return this.recent.slice(Math.max(0, at - this.dropped));
  }

  /** Lines received so far and not yet consumed by an expect. */
  get unread(): string {
    return this.buffer;
  }

  /**
   * Drops the output not yet consumed (it stays in the log), so the next expect sees only
   * what arrives from now on: call it before an action whose log lines may also be in
   * the backlog (a reconnect, a revocation), so an old line cannot match.
   */
  discard(): void {
    this.buffer = '';
  }

  private fail(message: string): ExpectError {
    return new ExpectError(this.name, message, this.tail(), this.logFile);
  }

  /**
   * Waits for a regex (or a string, read as a regex like pexpect) in the output not yet
   * consumed; consumes up to the end of the match and returns it.
   * Throws: ExpectError with the last lines of the log when it does not come in time.
   */
  expect(pattern: RegExp | string, options: ExpectOptions = {}): Promise<RegExpExecArray> {
    const re =
      typeof pattern === 'string' ? new RegExp(pattern) : new RegExp(pattern.source, pattern.flags.replace('g', ''));
    return this.wait(re, show(pattern), options);
  }

  /** Like expect(), matching the text literally. */
  expectExact(text: string, options: ExpectOptions = {}): Promise<RegExpExecArray> {
    return this.wait(new RegExp(escapeRegex(text)), JSON.stringify(text), options);
  }

  private wait(re: RegExp, shown: string, options: ExpectOptions): Promise<RegExpExecArray> {
    if (this.pending)
      return Promise.reject(new UsageError('EXPECT_BUSY', `${this.name}: one expect at a time per DUT`));
    const ms = options.timeout ?? this.timeoutMs;
    return new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(this.fail(`pattern ${shown} not found within ${ms / 1000} s`));
      }, ms);
      this.pending = {
        re,
        done: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.tryMatch();
    });
  }

  /** Fails if the pattern appears in the output (unread, or arriving) within `timeout` (default 1 s). */
  async notExpect(pattern: RegExp | string, options: ExpectOptions = {}): Promise<void> {
    const ms = options.timeout ?? 1000;
    const m = await this.expect(pattern, { timeout: ms }).catch((e: unknown) => {
      if (e instanceof ExpectError) return undefined;
      throw e;
    });
    if (m) throw this.fail(`pattern ${show(pattern)} appeared: ${JSON.stringify(m[0])}`);
  }

  /** Writes to the DUT's UART; a string gets a trailing newline (a console command). */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data.endsWith('\n') ? data : `${data}\n`) : data;
    await this.serial().write(bytes);
  }

  /** The demultiplexed link (Improv, RPC), for clients that speak them. */
  serial(): SerialLink {
    if (!this.link) throw new UsageError('DUT_CLOSED', `${this.name}: the port is not open`);
    return this.link;
  }

  /** Hard reset (runs the app). Output not read before it is dropped, so expects see the new boot. */
  async reset(): Promise<void> {
    this.buffer = '';
    this.note('reset');
    await this.pulse('hard');
  }

  /** Resets into the ROM loader and waits for it to say so. */
  async enterBootloader(options: ExpectOptions = {}): Promise<void> {
    this.buffer = '';
    this.note('reset into the bootloader');
    await this.pulse('bootloader');
    await this.expect(/waiting for download/, options);
  }

  private async pulse(mode: 'hard' | 'bootloader'): Promise<void> {
    const m = this.reset_;
    if (m.kind === 'none') {
      throw new UsageError('DUT_NO_RESET', `${this.name}: the bench says reset: none, so it cannot be reset`, {
        hint: 'set reset: auto (DTR/RTS) or a sequence/command for this DUT in the bench file',
      });
    }
    if (m.kind === 'command') {
      if (mode === 'bootloader')
        throw new UsageError('DUT_NO_BOOTLOADER', `${this.name}: a reset command cannot enter the bootloader`);
      await runCommand(m.command, this.name);
      return;
    }
    const t = this.transport;
    if (!t) throw new UsageError('DUT_CLOSED', `${this.name}: the port is not open`);
    // The flasher's reset opens and closes the port it is given: lend it ours, kept open.
    await reset({
      port: keepOpen(t),
      mode,
      ...(m.kind === 'sequence' && mode === 'hard' ? { sequence: m.sequence } : {}),
    });
  }

  /**
   * Writes a build dir (flasher_args.json) with the flasher, verified, then resets into it.
   * The port is released meanwhile. Regions whose MD5 already matches are skipped unless
   * `noSkip` (then every region is erased and written again).
   */
  async flash(build: string, options: { noSkip?: boolean } = {}): Promise<FlashResult> {
    this.note(`flashing ${build}${options.noSkip ? ' (every region)' : ''}`);
    await this.detach();
    let result: FlashResult;
    try {
      result = await flash({ port: this.port, inputs: [build], after: 'no-reset', noSkip: options.noSkip ?? false });
    } catch (e) {
      if (e instanceof KilnError) throw e;
      throw new KilnError('FLASH_FAILED', `${this.name}: flashing ${build} failed: ${(e as Error).message}`, {
        hint: `kiln flash --port ${this.port} ${build} shows the whole exchange; the DUT log is ${this.logFile}`,
        exitCode: ExitCode.DEVICE,
        cause: e,
      });
    } finally {
      await this.attach();
    }
    this.note(`flashed ${result.regions.map((r) => `${r.name}${r.skipped ? ' (same)' : ''}`).join(', ')}`);
    await this.reset();
    return result;
  }

  /** Provisions Wi-Fi, keys and gateway over this DUT's link (the bench's gateway unless told otherwise). */
  async provision(options: Partial<Omit<ProvisionOptions, 'port'>> = {}): Promise<ProvisionSummary> {
    this.note('provisioning');
    const summary = await provision({ ...this.provisionDefaults, ...options, port: this.serial() });
    this.deviceId = summary.deviceId;
    this.note(`provisioned as ${summary.deviceId}${summary.online ? ', online' : ''}`);
    return summary;
  }

  async close(): Promise<void> {
    this.pending = undefined;
    await this.detach().catch(() => {});
    await new Promise<void>((r) => this.log.end(r));
  }
}

/** The same transport with open() and close() as no-ops, for APIs that manage the port themselves. */
function keepOpen(t: Transport): Transport {
  return {
    kind: t.kind,
    port: t.port,
    canSetLines: t.canSetLines,
    hasBaudRate: t.hasBaudRate,
    get isOpen() {
      return t.isOpen;
    },
    get lines() {
      return t.lines;
    },
    get baudRate() {
      return t.baudRate;
    },
    usb: t.usb,
    open: async () => {},
    close: async () => {},
    write: (d) => t.write(d),
    onData: (l) => t.onData(l),
    onClose: (l) => t.onClose(l),
    setLines: (l) => t.setLines(l),
    setBreak: (on) => t.setBreak(on),
    setBaudRate: (b) => t.setBaudRate(b),
  };
}

function runCommand(command: string, dut: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new KilnError('RESET_COMMAND', `${dut}: reset command exited with ${code}: ${command}`, {
              exitCode: ExitCode.DEVICE,
            }),
          ),
    );
  });
}
