/**
 * `kiln board`: start virtual boards and serve them until SIGINT/SIGTERM. Prints one
 * line per board on stdout, the URL(s) to give esptool or `kiln flash --port`, and
 * nothing else; errors go to stderr.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { UsageError } from '@kiln/protocol';
import type { Command } from 'commander';
import { parseNetworks, type SimulatedNetwork, WIFI_ENV } from './boot/simulated-wifi.ts';
import { assertBoardChip, BOARD_CHIPS, formatMac, type MacAddress, parseMac } from './chips/index.ts';
import { describeSize, parseFlashSize } from './flash/flash-chip.ts';
import { type RunningBoard, type StartBoardOptions, startBoards } from './index.ts';
import type { FaultDirection, FaultOptions } from './link/faults.ts';
import { parseListen } from './tcp-listener.ts';

interface BoardFlags {
  chip: string;
  flash?: string;
  flashSize?: string;
  mac?: string;
  listen: string;
  count: string;
  socket?: boolean;
  rfc2217: boolean;
  public?: boolean;
  json?: boolean;
  download?: boolean;
  timing?: boolean;
  appBuild: string[];
  appWifiFile?: string;
  appWifi?: string;
  faultSeed?: string;
  faultBitErrorRate?: string;
  faultDropRate?: string;
  faultDirection?: string;
  faultPowerCutAfter?: string;
}

const EXAMPLES = `
Examples:
  kiln board --chip esp32 --flash ./board.bin
      prints rfc2217://127.0.0.1:PORT; then: esptool --port rfc2217://127.0.0.1:PORT flash-id
  kiln board --chip esp32c3 --count 4 --json
      four boards (flash files .kiln/boards/esp32c3-1.bin … -4.bin), one JSON line each
  kiln board --socket --listen 127.0.0.1:4000
      RFC 2217 on port 4000 and raw TCP (socket://) on 4001
  kiln board --socket --no-rfc2217 --download
      raw TCP only; the chip waits in download mode (esptool --port socket://…)
  KILN_WIFI='KilnLab:secret,Guest:' kiln board --app-build firmware/build-host
      after a flash boot, an image of that host build runs as kiln-device on the
      serial link (other images: the bootloader log, then a silent "foreign app");
      its simulated Wi-Fi sees KilnLab (password "secret") and the open Guest
  kiln board --timing
      bytes take their UART time at the current baud, erase/program take W25Q32JV
      typical times: a flash at 115200 takes as long as on a DevKit
  kiln board --fault-seed 7 --fault-bit-error-rate 1e-4 --fault-drop-rate 1e-5
      flip one bit in ~1 byte in 10,000 and drop ~1 in 100,000, both ways
  kiln board --fault-power-cut-after 65536
      the power goes after 64 KiB of flash programming; the next reset restores it

With --count N, a fixed port P gives RFC 2217 ports P…P+N-1 and socket ports
P+N…P+2N-1; a --flash path gets -1 … -N before its extension (or replaces {n});
a --mac and a --fault-seed are counted up by one per board. The board runs
until SIGINT or SIGTERM, stops its app's kiln-device (SIGTERM, then SIGKILL after
2 s) and leaves its flash file synced to disk.

The host app's simulated networks (ssid:psk[:rssi], comma- or line-separated) come
from --app-wifi-file, else KILN_WIFI; never from the command line, where every
user's ps would show the passwords. kiln-device gets them in its environment.`;

export function registerCommands(program: Command): void {
  program
    .command('board')
    .description('start a virtual ESP32 board (prints the URL it listens on, runs until stopped)')
    .option('--chip <chip>', `chip to be: ${Object.keys(BOARD_CHIPS).join(', ')}`, 'esp32')
    .option('--flash <file>', 'flash image file, created erased if missing (default .kiln/boards/<chip>.bin)')
    .option('--flash-size <size>', 'flash size for a new file: 256KB … 16MB (default 4MB, or the file’s size)')
    .option('--mac <mac>', 'base MAC address, e.g. 24:0a:c4:12:34:56 (default derived from the flash path)')
    .option('--listen <host:port>', 'address for RFC 2217; port 0 picks a free one', '127.0.0.1:0')
    .option('--count <n>', 'start N boards', '1')
    .option('--socket', 'also serve raw TCP (socket://), on the next port')
    .option('--no-rfc2217', 'do not serve RFC 2217 (use with --socket)')
    .option('--download', 'power on in download mode, as with BOOT held (socket:// clients cannot reset the chip)')
    .option('--public', 'allow listening on an address other machines can reach')
    .option(
      '--app-build <dir>',
      'a Kiln firmware host build (holds kiln-device) to run as the app; repeatable',
      collect,
      [],
    )
    .option('--app-wifi-file <file>', "file listing the networks the host app's simulated Wi-Fi sees (else KILN_WIFI)")
    .option('--app-wifi <list>', 'refused: use KILN_WIFI or --app-wifi-file')
    .option('--timing', 'UART byte times at the current baud and datasheet flash erase/program times')
    .option('--fault-seed <n>', 'seed for the injected faults (default 1)')
    .option('--fault-bit-error-rate <p>', 'probability that a byte on the serial link has one bit flipped')
    .option('--fault-drop-rate <p>', 'probability that a byte on the serial link is lost')
    .option('--fault-direction <dir>', 'link faults on to-board, to-host or both (default both)')
    .option('--fault-power-cut-after <bytes>', 'cut the power after this many bytes of flash programming')
    .option('--json', 'print each board as one JSON line')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: BoardFlags, command: Command) => {
      const out = command.configureOutput().writeOut ?? ((t: string) => process.stdout.write(t));
      const options = boardOptions(flags);
      // Listen for the signals before printing: a client may act on the line at once.
      const stop = stopSignal();
      try {
        const boards = await startBoards(options);
        try {
          for (const b of boards) out(`${describe(b, flags.json ?? false)}\n`);
          await stop.received;
        } finally {
          await Promise.all(boards.map((b) => b.close()));
        }
      } finally {
        stop.dispose();
      }
    });
}

function boardOptions(flags: BoardFlags): StartBoardOptions[] {
  const count = Number(flags.count);
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new UsageError('BOARD_BAD_COUNT', `--count ${flags.count} is not a number of boards from 1 to 64`, {
      hint: 'pass --count 1 … 64',
    });
  }
  assertBoardChip(flags.chip);
  const listen = parseListen(flags.listen);
  const flashSize = flags.flashSize === undefined ? undefined : parseFlashSize(flags.flashSize);
  const mac = flags.mac === undefined ? undefined : parseMac(flags.mac);
  const flash = flags.flash ?? `.kiln/boards/${flags.chip}.bin`;
  const faults = faultOptions(flags);
  const wifi = appNetworks(flags);
  return Array.from({ length: count }, (_, i) => {
    const path = resolve(count === 1 ? flash : numbered(flash, i + 1));
    mkdirSync(dirname(path), { recursive: true });
    const port = (offset: number) => (listen.port === 0 ? 0 : listen.port + offset);
    const options: StartBoardOptions = {
      chip: flags.chip,
      flash: path,
      listen: { host: listen.host, port: port(i) },
      socketListen: { host: listen.host, port: port(flags.rfc2217 ? count + i : i) },
      rfc2217: flags.rfc2217,
      socket: flags.socket ?? false,
      allowPublic: flags.public ?? false,
      powerOnInDownloadMode: flags.download ?? false,
      timing: flags.timing ?? false,
      firmware: {
        appBuilds: flags.appBuild.map((d) => resolve(d)),
        wifi,
      },
    };
    if (faults) options.faults = { ...faults, seed: (faults.seed ?? 1) + i };
    if (flashSize !== undefined) options.flashSize = flashSize;
    if (mac) options.mac = addToMac(mac, i);
    return options;
  });
}

/** The host app's networks: --app-wifi-file, else KILN_WIFI, else none. A password is never taken from argv. */
function appNetworks(flags: BoardFlags, env: NodeJS.ProcessEnv = process.env): SimulatedNetwork[] {
  if (flags.appWifi !== undefined) {
    throw new UsageError(
      'BOARD_WIFI_ARGV',
      '--app-wifi is refused: passwords on the command line are visible to every user (ps, shell history)',
      { hint: `put the networks in a file for --app-wifi-file FILE, or in ${WIFI_ENV}=ssid:psk,…` },
    );
  }
  if (flags.appWifiFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(flags.appWifiFile, 'utf8');
    } catch (e) {
      throw new UsageError(
        'BOARD_BAD_WIFI',
        `cannot read --app-wifi-file ${flags.appWifiFile}: ${(e as Error).message}`,
        {
          hint: 'give a file of ssid:psk[:rssi] lines',
        },
      );
    }
    return parseNetworks(text);
  }
  const fromEnv = env[WIFI_ENV];
  return fromEnv ? parseNetworks(fromEnv) : [];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The --fault-* flags, or undefined when none is given. */
function faultOptions(flags: BoardFlags): FaultOptions | undefined {
  const number = (flag: string, text: string | undefined, check: (n: number) => boolean, hint: string) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || !check(n)) {
      throw new UsageError('BOARD_BAD_FAULT', `${flag} ${text} is not ${hint}`, { hint: `pass ${flag} ${hint}` });
    }
    return n;
  };
  const probability = (p: number) => p >= 0 && p <= 1;
  const count = (n: number) => Number.isInteger(n) && n >= 0;
  const out: FaultOptions = {};
  const seed = number('--fault-seed', flags.faultSeed, count, 'a whole number');
  const bit = number('--fault-bit-error-rate', flags.faultBitErrorRate, probability, 'a probability from 0 to 1');
  const drop = number('--fault-drop-rate', flags.faultDropRate, probability, 'a probability from 0 to 1');
  const cut = number('--fault-power-cut-after', flags.faultPowerCutAfter, count, 'a number of bytes');
  if (seed !== undefined) out.seed = seed;
  if (bit !== undefined) out.bitErrorRate = bit;
  if (drop !== undefined) out.dropRate = drop;
  if (cut !== undefined) out.powerCutAfterBytes = cut;
  if (flags.faultDirection !== undefined) {
    if (!['to-board', 'to-host', 'both'].includes(flags.faultDirection)) {
      throw new UsageError('BOARD_BAD_FAULT', `--fault-direction ${flags.faultDirection} is not a direction`, {
        hint: 'pass --fault-direction to-board, to-host or both',
      });
    }
    out.direction = flags.faultDirection as FaultDirection;
  }
  return Object.keys(out).length ? out : undefined;
}

function numbered(path: string, n: number): string {
  if (path.includes('{n}')) return path.replaceAll('{n}', String(n));
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}-${n}${ext}`;
}

function addToMac(mac: MacAddress, n: number): MacAddress {
  const low = ((mac[3] << 16) | (mac[4] << 8) | mac[5]) + n;
  return [mac[0], mac[1], mac[2], (low >> 16) & 0xff, (low >> 8) & 0xff, low & 0xff];
}

function describe(b: RunningBoard, json: boolean): string {
  if (!json) return [b.rfc2217Url, b.socketUrl].filter(Boolean).join(' ');
  return JSON.stringify({
    url: b.url,
    rfc2217: b.rfc2217Url ?? null,
    socket: b.socketUrl ?? null,
    chip: b.board.chip.name,
    mac: formatMac(b.board.chip.mac),
    flash: b.board.flash.path ?? null,
    flashSize: describeSize(b.board.flash.size),
  });
}

/** Resolves on the first SIGINT or SIGTERM; a board that is running stops cleanly on either. */
function stopSignal(): { received: Promise<void>; dispose: () => void } {
  let onSignal = () => {};
  const received = new Promise<void>((resolve) => {
    onSignal = () => resolve();
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
