/**
 * The flasher's `kiln` subcommands: thin handlers over cmds/*.ts (the scripting API).
 * Each parses flags, picks a reporter and prints the result; errors are KilnErrors
 * that cli/ turns into a message, a hint and an exit code (docs/EXIT-CODES.md).
 */
import { type Command, Option } from 'commander';
import { registerImageCommands } from './cli/image.ts';
import { registerMonitorCommand } from './cli/monitor.ts';
import { registerPartitionCommands } from './cli/partitions.ts';
import { chipInfo, formatChipInfo } from './cmds/chip-info.ts';
import type { DeviceOptions } from './cmds/connect-options.ts';
import { erase } from './cmds/erase.ts';
import { flash } from './cmds/flash.ts';
import {
  type DeviceOutcome,
  type FlashManyOptions,
  flashMany,
  formatSummary,
  ParallelFlashError,
} from './cmds/flash-many.ts';
import { formatPorts, ports } from './cmds/ports.ts';
import { readFlash } from './cmds/read-flash.ts';
import { reset } from './cmds/reset.ts';
import { UsageError } from './errors.ts';
import type { After, Before } from './loader/session.ts';
import { hex, parseOffset } from './plan.ts';
import { createParallelReporter, createReporter, type Reporter } from './progress.ts';

interface DeviceFlags {
  port?: string;
  /** flash only: every --port given. */
  ports?: string[];
  baud: string;
  chip?: string;
  before: Before;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

const EXIT_CODES = `
Exit codes: 0 ok (verified), 2 bad input (nothing written), 3 port, 4 device,
5 verification failed (docs/EXIT-CODES.md).`;

const PORT_HELP = 'serial port: /dev/ttyUSB0, COM3, rfc2217://HOST:PORT or socket://HOST:PORT';

function deviceCommand(program: Command, name: string, multiPort = false): Command {
  const cmd = program.command(name);
  if (multiPort) {
    cmd.option(
      '-p, --port <port>',
      `${PORT_HELP}; repeat it to flash several devices at once`,
      (v: string, prev: string[] = []) => [...prev, v],
    );
  } else cmd.option('-p, --port <port>', PORT_HELP);
  return cmd
    .option('-b, --baud <rate>', 'baud rate once the stub runs (the ROM talks at 115200)', '460800')
    .option('-c, --chip <chip>', 'refuse any other chip: esp32, esp32s3, esp32c3 (default: detect)')
    .addOption(
      new Option('--before <how>', 'how to enter the ROM loader')
        .choices(['default-reset', 'usb-reset', 'no-reset'])
        .default('default-reset'),
    )
    .option('--json', 'print events and the result as JSON lines on stdout')
    .option('-q, --quiet', 'print nothing but errors')
    .option('-v, --verbose', "also print esptool-js's own messages");
}

function setup(flags: DeviceFlags): { options: DeviceOptions; reporter: Reporter } {
  if (!flags.port) {
    throw new UsageError('PORT_REQUIRED', 'no --port given', {
      hint: "pick one from 'kiln ports', or give rfc2217://HOST:PORT; e.g. --port /dev/ttyUSB0",
    });
  }
  const baud = Number(flags.baud);
  if (!Number.isInteger(baud) || baud < 9600) {
    throw new UsageError('BAUD_INVALID', `'${flags.baud}' is not a baud rate`, { hint: 'e.g. --baud 460800' });
  }
  const reporter = createReporter(flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto');
  const options: DeviceOptions = { port: flags.port, baud, before: flags.before, onEvent: reporter.onEvent };
  if (flags.chip) options.chip = flags.chip;
  if (flags.verbose) options.log = (l) => process.stderr.write(`  esptool-js: ${l.trim()}\n`);
  return { options, reporter };
}

async function run<T>(reporter: Reporter, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    reporter.stop();
  }
}

const print = (flags: { json?: boolean }, value: unknown, text: string) =>
  process.stdout.write(flags.json ? `${JSON.stringify({ type: 'result', ...(value as object) })}\n` : text);

/** kiln flash with several --port: concurrent, a summary table, exit code of the first failure. */
async function flashSeveral(
  ports: string[],
  flags: Omit<DeviceFlags, 'port'>,
  common: Pick<FlashManyOptions, 'inputs' | 'offset' | 'noSkip' | 'force' | 'after'>,
): Promise<void> {
  const { options } = setup({ ...flags, port: ports[0], quiet: true });
  const reporter = createParallelReporter(flags.json ? 'json' : flags.quiet ? 'quiet' : 'auto', ports);
  let outcomes: DeviceOutcome[];
  try {
    outcomes = await flashMany({ ...options, ...common, ports, onEvent: reporter.onEvent });
  } catch (e) {
    if (!(e instanceof ParallelFlashError)) throw e;
    outcomes = e.outcomes;
    reporter.stop();
    report(flags, outcomes);
    throw e;
  }
  reporter.stop();
  report(flags, outcomes);
}

function report(flags: { json?: boolean; quiet?: boolean }, outcomes: DeviceOutcome[]): void {
  if (flags.json) process.stdout.write(`${JSON.stringify({ type: 'result', devices: outcomes })}\n`);
  else if (!flags.quiet) process.stdout.write(`\n${formatSummary(outcomes)}`);
}

export function registerCommands(program: Command): void {
  program
    .command('ports')
    .description('list serial ports (VID:PID, serial number, location), likely ESP boards first')
    .option('--json', 'print the list as JSON')
    .addHelpText('after', "\nExamples:\n  kiln ports\n  kiln ports --json | jq -r '.[] | select(.espAdapter) | .path'")
    .action(async (flags: { json?: boolean }) => {
      const list = await ports();
      process.stdout.write(flags.json ? `${JSON.stringify(list, null, 2)}\n` : formatPorts(list));
    });

  deviceCommand(program, 'chip-info')
    .description('chip, revision, features, crystal, MAC, flash id and size')
    .addHelpText(
      'after',
      `\nExamples:\n  kiln chip-info --port /dev/ttyUSB0\n  kiln chip-info --port rfc2217://127.0.0.1:4000 --json\n${EXIT_CODES}`,
    )
    .action(async (flags: DeviceFlags) => {
      const { options, reporter } = setup(flags);
      const info = await run(reporter, () => chipInfo(options));
      if (!flags.quiet || flags.json) print(flags, info, formatChipInfo(info));
    });

  deviceCommand(program, 'flash', true)
    .description('write a build dir, FILE@OFFSET pairs or a merged image; verify every region; reset')
    .argument('<input...>', 'an ESP-IDF build dir, FILE@OFFSET pairs, or one merged image')
    .option('--offset <offset>', 'where a merged image goes', '0x0')
    .option('--no-skip', 'rewrite regions whose MD5 already matches')
    .option('--force', 'write despite a wrong chip id or a bootloader at the wrong offset')
    .addOption(
      new Option('--after <how>', 'what to do once verified')
        .choices(['hard-reset', 'bootloader', 'no-reset'])
        .default('hard-reset'),
    )
    .addHelpText(
      'after',
      `
Examples:
  kiln flash build/ --port /dev/ttyUSB0
      an ESP-IDF build dir (flasher_args.json); regions already on the device are skipped
  kiln flash bootloader.bin@0x1000 partition-table.bin@0x8000 app.bin@0x10000 -p COM3 -b 921600
  kiln flash merged-binary.bin --port rfc2217://127.0.0.1:4000 --json
  kiln flash build/ -p /dev/ttyUSB0 -p /dev/ttyUSB1 -p /dev/ttyUSB2 -b 921600
      several devices at once: a bar (or prefixed lines) per device, then a summary table;
      one failure does not stop the others, and the exit code is the first failure's
${EXIT_CODES}`,
    )
    .action(
      async (
        inputs: string[],
        flags: Omit<DeviceFlags, 'port'> & {
          port?: string[];
          offset: string;
          skip: boolean;
          force?: boolean;
          after: After;
        },
      ) => {
        const ports = flags.port ?? [];
        const common = {
          inputs,
          offset: parseOffset(flags.offset),
          noSkip: !flags.skip,
          force: flags.force ?? false,
          after: flags.after,
        };
        if (ports.length > 1) return flashSeveral(ports, flags, common);
        const { options, reporter } = setup({ ...flags, port: ports[0] });
        const result = await run(reporter, () => flash({ ...options, ...common }));
        const written = result.regions.filter((r) => !r.skipped).length;
        const text = `Flashed ${result.chip} on ${result.port}: ${written} region(s) written, ${result.regions.length - written} already there, all verified.\n`;
        if (!flags.quiet || flags.json) print(flags, result, text);
      },
    );

  deviceCommand(program, 'erase')
    .description('erase the whole flash, a region, or a partition by label')
    .option('--region <offset_size...>', 'erase OFFSET SIZE (4 KiB aligned)')
    .option('--partition <label>', "erase the partition with this label in the device's partition table")
    .addHelpText(
      'after',
      `\nExamples:\n  kiln erase --port /dev/ttyUSB0\n  kiln erase --region 0x9000 0x6000 -p /dev/ttyUSB0\n  kiln erase --partition nvs -p rfc2217://127.0.0.1:4000\n${EXIT_CODES}`,
    )
    .action(async (flags: DeviceFlags & { region?: string[]; partition?: string }) => {
      const { options, reporter } = setup(flags);
      let region: { address: number; size: number } | undefined;
      if (flags.region) {
        const [o, s] = flags.region;
        if (flags.region.length !== 2 || o === undefined || s === undefined) {
          throw new UsageError('ERASE_REGION_ARGS', '--region takes OFFSET and SIZE', {
            hint: '--region 0x9000 0x6000',
          });
        }
        region = { address: parseOffset(o), size: parseOffset(s, 'size') };
      }
      const r = await run(reporter, () => erase({ ...options, region, partition: flags.partition }));
      const what = r.size === 'all' ? 'the whole flash' : `0x${hex(r.address)}..0x${hex(r.address + r.size)}`;
      if (!flags.quiet || flags.json) print(flags, r, `Erased ${what}${r.partition ? ` (${r.partition})` : ''}.\n`);
    });

  deviceCommand(program, 'read-flash')
    .description('copy a flash region to a file (checked against the device’s MD5)')
    .argument('<offset>', 'start, e.g. 0x10000')
    .argument('<size>', 'bytes, e.g. 0x100000')
    .argument('<out>', 'file to write')
    .addHelpText(
      'after',
      `\nExamples:\n  kiln read-flash 0 0x400000 backup.bin --port /dev/ttyUSB0\n  kiln read-flash 0x8000 0xc00 table.bin -p rfc2217://127.0.0.1:4000\n${EXIT_CODES}`,
    )
    .action(async (offset: string, size: string, out: string, flags: DeviceFlags) => {
      const { options, reporter } = setup(flags);
      const address = parseOffset(offset);
      const data = await run(reporter, () => readFlash({ ...options, address, size: parseOffset(size, 'size'), out }));
      if (!flags.quiet || flags.json)
        print(flags, { address, size: data.length, out }, `Read ${data.length} bytes to ${out}.\n`);
    });

  program
    .command('reset')
    .description('hard-reset the board (run the app), or reset it into the ROM loader')
    .option('-p, --port <port>', 'serial port or rfc2217://HOST:PORT (socket:// has no lines)')
    .option('--bootloader', 'reset into the ROM loader (download mode) instead')
    .option('--sequence <seq>', "esptool's custom reset sequence, e.g. D0|R1|W0.1|R0")
    .addHelpText(
      'after',
      `\nExamples:\n  kiln reset --port /dev/ttyUSB0\n  kiln reset --bootloader -p rfc2217://127.0.0.1:4000\n${EXIT_CODES}`,
    )
    .action(async (flags: { port?: string; bootloader?: boolean; sequence?: string }) => {
      if (!flags.port) throw new UsageError('PORT_REQUIRED', 'no --port given', { hint: "pick one from 'kiln ports'" });
      await reset({ port: flags.port, mode: flags.bootloader ? 'bootloader' : 'hard', sequence: flags.sequence });
    });

  registerImageCommands(program);
  registerPartitionCommands(program);
  registerMonitorCommand(program);
}
