/**
 * The app, when it is the Kiln firmware: the board is given host builds (directories
 * the firmware's host build writes, each with a `kiln-device` executable and the app
 * image of it). An image whose esp_app_desc_t says project `kiln_firmware` and whose
 * app_elf_sha256 is the SHA-256 of one of those executables is run as that process:
 * its stdin/stdout are the chip's UART, it is killed when the chip resets, and its
 * NVS is a key-value file beside the board's flash file, one per NVS partition
 * offset (`<flash>.nvs-0x9000.kv`), filled from the NVS partition in flash before
 * the app starts and written back into it when the app stops (nvs-handover.ts).
 * The simulated Wi-Fi networks go in its environment (simulated-wifi.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AppDescription } from '@kiln/protocol/formats/app-image';
import { formatNetworks, type SimulatedNetwork, WIFI_ENV } from './simulated-wifi.ts';

export const KILN_PROJECT_NAME = 'kiln_firmware';
export const HOST_EXECUTABLE = 'kiln-device';

export interface HostBuild {
  dir: string;
  executable: string;
  sha256: string;
}

/** The host builds a board knows; hashes are recomputed when an executable changes. */
export class HostBuilds {
  readonly #dirs: string[];
  readonly #cache = new Map<string, { mtimeMs: number; size: number; sha256: string }>();

  constructor(dirs: readonly string[]) {
    this.#dirs = dirs.map((d) => resolve(d));
  }

  get dirs(): readonly string[] {
    return this.#dirs;
  }

  list(): HostBuild[] {
    const out: HostBuild[] = [];
    for (const dir of this.#dirs) {
      const executable = join(dir, HOST_EXECUTABLE);
      if (!existsSync(executable)) continue;
      const st = statSync(executable);
      let cached = this.#cache.get(executable);
      if (!cached || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
        cached = {
          mtimeMs: st.mtimeMs,
          size: st.size,
          sha256: createHash('sha256').update(readFileSync(executable)).digest('hex'),
        };
        this.#cache.set(executable, cached);
      }
      out.push({ dir, executable, sha256: cached.sha256 });
    }
    return out;
  }

  /** The build an app image is, or undefined for a foreign app. */
  match(description: AppDescription | undefined): HostBuild | undefined {
    if (!description || description.projectName !== KILN_PROJECT_NAME) return undefined;
    return this.list().find((b) => b.sha256 === description.elfSha256);
  }
}

export interface HostAppOptions {
  build: HostBuild;
  chip: string;
  mac: string;
  /** The key-value file the device keeps its NVS in. */
  nvsFile: string;
  /** The networks its simulated Wi-Fi sees, handed over in its environment (KILN_WIFI). Default none. */
  wifi?: readonly SimulatedNetwork[];
  /** More arguments for kiln-device (e.g. `--telemetry-ms 1000`); never a secret: every user's `ps` shows them. */
  args?: readonly string[];
  /** Bytes the app writes to its UART (stdout; stderr too, as ESP_LOG would). */
  output(data: Buffer): void;
  exited?(code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * How an app stops: `reset` is the chip losing EN or power, so the process is killed
 * at once (SIGKILL); `shutdown` is the board being closed, so it gets SIGTERM and
 * `graceMs` to exit before SIGKILL.
 */
export type StopHow = 'reset' | 'shutdown';

/** From SIGTERM to SIGKILL when a board is closed. kiln-device exits within ~50 ms of SIGTERM or of its stdin closing. */
export const SHUTDOWN_GRACE_MS = 2000;
/** After SIGKILL: a process that still has not exited (stuck in the kernel) is given up on. */
const KILL_WAIT_MS = 5000;

/** A running kiln-device process. stop() ends it and resolves once it has exited. */
export class HostApp {
  readonly #child: ChildProcess;
  /** Resolves when the process has exited, or KILL_WAIT_MS after a SIGKILL it did not exit from. */
  readonly #ended: Promise<void>;
  #giveUp: () => void = () => {};
  #graceTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #terminated = false;
  #killed = false;
  #done = false;

  constructor(options: HostAppOptions) {
    const args = ['--chip', options.chip, '--mac', options.mac, '--nvs', options.nvsFile, ...(options.args ?? [])];
    // The board's settings are the app's only source of networks: none inherited from this process.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[WIFI_ENV];
    if (options.wifi?.length) env[WIFI_ENV] = formatNetworks(options.wifi);
    this.#child = spawn(options.build.executable, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: options.build.dir,
      env,
    });
    const exited = new Promise<void>((resolve) => {
      this.#child.once('exit', () => resolve());
      // A spawn that failed (no pid) never exits.
      this.#child.once('error', () => {
        if (this.#child.pid === undefined) resolve();
      });
    });
    const givenUp = new Promise<void>((resolve) => {
      this.#giveUp = resolve;
    });
    this.#ended = Promise.race([exited, givenUp]).finally(() => {
      clearTimeout(this.#graceTimer);
      clearTimeout(this.#killTimer);
    });
    this.#child.stdout?.on('data', (d: Buffer) => {
      if (!this.#done) options.output(d);
    });
    this.#child.stderr?.on('data', (d: Buffer) => {
      if (!this.#done) options.output(d);
    });
    this.#child.stdin?.on('error', () => {});
    this.#child.on('error', () => {});
    this.#child.on('exit', (code, signal) => {
      if (this.#done) return;
      this.#done = true;
      options.exited?.(code, signal);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Bytes from the UART RX into the app's stdin. */
  write(data: Buffer): void {
    if (!this.#done && this.#child.stdin?.writable) this.#child.stdin.write(data);
  }

  /**
   * Ends the process (see StopHow) and resolves once it has exited; its output is
   * ignored from here on. Calling it again is harmless; a reset during a shutdown's
   * grace period kills at once.
   */
  stop(how: StopHow = 'reset', graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    this.#done = true;
    this.#child.stdin?.destroy();
    const running = this.#child.pid !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
    if (!running) return this.#ended;
    if (how === 'reset') this.#kill();
    else if (!this.#terminated && !this.#killed) {
      this.#terminated = true;
      this.#child.kill('SIGTERM');
      this.#graceTimer = setTimeout(() => this.#kill(), graceMs);
    }
    return this.#ended;
  }

  #kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    clearTimeout(this.#graceTimer);
    this.#child.kill('SIGKILL');
    this.#killTimer = setTimeout(() => this.#giveUp(), KILL_WAIT_MS);
  }
}
