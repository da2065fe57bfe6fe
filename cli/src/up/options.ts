/**
 * `kiln up`'s command line, checked before anything starts: how many virtual boards
 * (or which bench file), which firmware build, where the data dir is, where the
 * gateway listens (loopback only), and the until-online mode with its timeout.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHostPort } from '@kiln/companion';
import { BOARD_CHIPS, type BoardChipName, isBoardChip } from '@kiln/hardware';
import { UsageError } from '@kiln/protocol';
import { type Bench, loadBench } from '@kiln/test';

/** The Kiln checkout this CLI runs from: the firmware host build lives there. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HOST_BUILD = join(REPO_ROOT, 'firmware', 'build-host');

/**
 * Each virtual board is an emulator in this process plus a kiln-device process and a
 * 4 MiB flash file; 16 keeps a laptop responsive. A bigger fleet is a bench file's job.
 */
export const MAX_BOARDS = 16;
export const DEFAULT_BOARDS = 3;

export interface UpFlags {
  boards?: string;
  bench?: string;
  chip: string;
  firmware?: string;
  dataDir: string;
  listen: string;
  mqttListen: string;
  telemetry: string;
  untilOnline?: boolean;
  timeout: string;
  json?: boolean;
}

export interface UpOptions {
  /** Absolute; gateway state, board flash files, logs, the operator key file. */
  dataDir: string;
  /** Virtual boards to start when there is no bench. */
  boards: number;
  chip: BoardChipName;
  /** The build dir flashed to the virtual boards (flasher_args.json). */
  firmware: string;
  /** The directory holding kiln-device, which the virtual boards run as the app. */
  hostBuild: string;
  bench: Bench | undefined;
  listen: { host: string; port: number };
  mqttListen: { host: string; port: number };
  telemetrySec: number;
  untilOnline: boolean;
  timeoutMs: number;
  json: boolean;
}

function wholeNumber(text: string, flag: string, min: number, max: number, hint: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError('UP_BAD_OPTION', `${flag} ${text}: expected a whole number from ${min} to ${max}`, { hint });
  }
  return n;
}

/**
 * A demo's gateway, with a development CA and an admin key on disk, is for this machine
 * only: `kiln up` has no public-bind flag (`kiln gateway --allow-public-bind` has).
 */
function loopback(a: { host: string; port: number }, flag: string): { host: string; port: number } {
  if (a.host === 'localhost' || a.host === '::1' || /^127\./.test(a.host)) return a;
  throw new UsageError('UP_PUBLIC_BIND', `${flag} ${a.host}: kiln up listens on loopback only`, {
    hint: 'use 127.0.0.1 (or ::1); a gateway other machines reach is kiln gateway --allow-public-bind with real TLS',
  });
}

/** A firmware build dir as the flasher reads it; checked here so that nothing starts for nothing. */
function checkBuild(dir: string, what: string): void {
  if (!existsSync(join(dir, 'flasher_args.json'))) {
    throw new UsageError('UP_NO_FIRMWARE', `${what} ${dir} holds no flasher_args.json`, {
      hint: dir.startsWith(HOST_BUILD)
        ? 'build it with: bash scripts/build-firmware-host.sh (npm start does this for you)'
        : 'give an ESP-IDF build dir (idf.py build writes flasher_args.json)',
    });
  }
}

export function parseUpFlags(f: UpFlags, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): UpOptions {
  if (f.bench !== undefined && f.boards !== undefined) {
    throw new UsageError('UP_BAD_OPTION', '--boards and --bench exclude each other', {
      hint: 'either N virtual boards (--boards N) or the boards of a bench file (--bench FILE)',
    });
  }
  const boards = wholeNumber(
    f.boards ?? String(DEFAULT_BOARDS),
    '--boards',
    1,
    MAX_BOARDS,
    `kiln up starts 1 to ${MAX_BOARDS} virtual boards; for more, describe them in a bench file (--bench)`,
  );
  if (!isBoardChip(f.chip)) {
    throw new UsageError('UP_BAD_OPTION', `--chip ${f.chip}: a virtual board cannot be that chip`, {
      hint: `choose one of: ${Object.keys(BOARD_CHIPS).join(', ')}`,
    });
  }
  const telemetrySec = wholeNumber(f.telemetry, '--telemetry', 1, 3600, 'seconds between samples, e.g. 2');
  const timeoutMs =
    wholeNumber(f.timeout, '--timeout', 1, 86_400, 'seconds to wait for every device to be online, e.g. 60') * 1000;
  const listen = loopback(parseHostPort(f.listen, '--listen'), '--listen');
  const mqttListen = loopback(parseHostPort(f.mqttListen, '--mqtt-listen'), '--mqtt-listen');

  let bench: Bench | undefined;
  if (f.bench !== undefined) {
    bench = loadBench(resolve(cwd, f.bench));
    if (bench.gateway.kind === 'external') {
      throw new UsageError(
        'UP_BENCH_GATEWAY',
        `bench ${bench.name} names the gateway ${bench.gateway.url}; kiln up runs its own gateway`,
        {
          hint: 'use "gateway: embedded" in the bench file, or provision against that gateway with kiln provision --devices',
        },
      );
    }
    for (const d of bench.duts) checkBuild(d.firmware, `the firmware of ${d.name},`);
    if (bench.duts.some((d) => d.port.kind !== 'virtual') && !env[bench.wifi.pskEnv]) {
      throw new UsageError('UP_WIFI_PSK', `the Wi-Fi password for "${bench.wifi.ssid}" goes in ${bench.wifi.pskEnv}`, {
        hint: `export ${bench.wifi.pskEnv}=… (a bench of only virtual boards makes one up)`,
      });
    }
  }
  // The host build's per-chip images (targets/<chip>) all run the one kiln-device.
  const firmware = f.firmware
    ? resolve(cwd, f.firmware)
    : f.chip === 'esp32'
      ? HOST_BUILD
      : join(HOST_BUILD, 'targets', f.chip);
  const needsVirtual = !bench || bench.duts.some((d) => d.port.kind === 'virtual');
  if (needsVirtual) {
    if (!bench) checkBuild(firmware, 'the firmware build');
    if (!existsSync(join(HOST_BUILD, 'kiln-device'))) {
      throw new UsageError(
        'UP_NO_FIRMWARE',
        `virtual boards run ${join(HOST_BUILD, 'kiln-device')}, which is missing`,
        {
          hint: 'build it with: bash scripts/build-firmware-host.sh (npm start does this for you)',
        },
      );
    }
  }
  return {
    dataDir: resolve(cwd, f.dataDir),
    boards,
    chip: f.chip,
    firmware,
    hostBuild: HOST_BUILD,
    bench,
    listen,
    mqttListen,
    telemetrySec,
    untilOnline: f.untilOnline ?? false,
    timeoutMs,
    json: f.json ?? false,
  };
}
