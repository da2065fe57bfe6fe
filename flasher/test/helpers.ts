/** Test helpers: virtual boards on 127.0.0.1 port 0 that are always stopped, temp dirs, SLIP frames. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningBoard, type StartBoardOptions, startBoard } from '@kiln/hardware';
import { ROM_LOADER_SYNC_PAYLOAD } from '@kiln/protocol';
import { type ChildResult, type RunningChild, runChild, startChild } from '@kiln/test/spawn-kiln';

export const FIXTURE_BUILD = new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32', import.meta.url)
  .pathname;

export class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'kiln-flasher-'));
  readonly #boards = new Set<RunningBoard>();
  readonly #cleanups: (() => Promise<void> | void)[] = [];
  #n = 0;

  async board(options: Partial<StartBoardOptions> & { chip?: string } = {}): Promise<RunningBoard> {
    const b = await startBoard({ chip: 'esp32', flash: join(this.dir, `board-${++this.#n}.bin`), ...options });
    this.#boards.add(b);
    return b;
  }

  /** A board that answers only on socket://, waiting in download mode (as with BOOT held). */
  socketBoard(options: Partial<StartBoardOptions> = {}): Promise<RunningBoard> {
    return this.board({ rfc2217: false, socket: true, powerOnInDownloadMode: true, ...options });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  onClose(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  async close(): Promise<void> {
    for (const fn of this.#cleanups.reverse()) await fn();
    await Promise.all([...this.#boards].map((b) => b.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SYNC as esptool frames it: SLIP(00 08 size chk payload). */
export function syncFrame(): Buffer {
  const head = Buffer.from([0x00, 0x08, ROM_LOADER_SYNC_PAYLOAD.length, 0, 0, 0, 0, 0]);
  return Buffer.concat([Buffer.from([0xc0]), head, Buffer.from(ROM_LOADER_SYNC_PAYLOAD), Buffer.from([0xc0])]);
}

/** Resolves with everything received once `until` matches it, or rejects after ms. */
export function collect(
  subscribe: (l: (d: Uint8Array) => void) => () => void,
  until: (all: Buffer) => boolean,
  ms = 2000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out; got ${Buffer.concat(chunks).toString('hex').slice(0, 200)}`));
    }, ms);
    const stop = subscribe((d) => {
      chunks.push(Buffer.from(d));
      const all = Buffer.concat(chunks);
      if (until(all)) {
        clearTimeout(timer);
        stop();
        resolve(all);
      }
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until cond() holds, polling; fails after ms. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** A minimal valid-looking app image for a chip id: header, one segment, checksum, then filler. */
export function fakeImage(chipId: number, bytes = 64 * 1024, seed = 1): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 512 < 256 ? x >>> 24 : 0x20 + (i % 64);
  }
  out.set([0xe9, 1, 2, 0x20, 0, 0, 0, 0x40, 0xee, 0, 0, 0], 0);
  out.writeUInt16LE(chipId, 12);
  out.fill(0, 14, 24);
  return out;
}

export { KILN, killChildren } from '@kiln/test/spawn-kiln';
export const ESPTOOL = fileURLToPath(new URL('../../.venv/bin/esptool', import.meta.url));
/** Colour off, so what a program prints compares as plain text. */
const NO_COLOR = { NO_COLOR: '1' };

/** Starts a program without blocking this process (the boards live here); stdin is a pipe; killed after timeoutMs. */
export function start(cmd: string, args: string[], timeoutMs = 60_000): RunningChild {
  return startChild(cmd, args, { env: NO_COLOR, timeoutMs });
}

/** Runs a program to the end (stdin closed at once). */
export function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<ChildResult> {
  return runChild(cmd, args, { env: NO_COLOR, timeoutMs });
}
