/** `kiln monitor`: a thin handler over cmds/monitor.ts. */
import type { Command } from 'commander';
import { monitor } from '../cmds/monitor.ts';
import { UsageError } from '../errors.ts';
import { LineFilter } from '../monitor/filter.ts';

interface MonitorFlags {
  port?: string;
  baud: string;
  reset: boolean;
  filter?: string;
  timestamps?: boolean;
  color?: boolean;
  log?: string;
  elf?: string;
  addr2line?: string;
}

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description('the board’s serial console, as esp-idf-monitor: colours, filters, timestamps, panic decoding')
    .option('-p, --port <port>', 'serial port: /dev/ttyUSB0, COM3, rfc2217://HOST:PORT or socket://HOST:PORT')
    .option('-b, --baud <rate>', 'console baud rate', '115200')
    .option('--no-reset', 'do not reset the board on start')
    .option('--filter <filter>', "esp-idf-monitor's print filter: 'TAG:LEVEL …' with N E W I D V, * for other tags")
    .option('--timestamps', 'prefix every line with the time it arrived (toggle: Ctrl+T I)')
    .option('--color', 'colour by log level even when stdout is not a terminal')
    .option('--no-color', 'never colour')
    .option('--log <file>', 'append the console (without colours) to this file (toggle: Ctrl+T L)')
    .option('--elf <file>', 'the app ELF, to decode panic backtraces (with --addr2line)')
    .option('--addr2line <path>', 'the toolchain addr2line, e.g. xtensa-esp32-elf-addr2line')
    .addHelpText(
      'after',
      `
Examples:
  kiln monitor --port /dev/ttyUSB0
  kiln monitor -p rfc2217://127.0.0.1:4000 --no-reset --filter 'wifi:W *:I' --timestamps
  kiln monitor -p /dev/ttyUSB0 --elf build/app.elf --addr2line xtensa-esp32-elf-addr2line --log console.txt

Keys: Ctrl+] quits. Ctrl+T then R reset, P reset into the bootloader, Y pause, I timestamps,
L log file, H help, X quit. They are read from stdin even when it is not a terminal.
The port is reopened when it disappears (USB unplugged, server restarted).

Exit codes: 0 quit, 2 bad option, 3 the port cannot be opened.`,
    )
    .action(async (flags: MonitorFlags) => {
      if (!flags.port) throw new UsageError('PORT_REQUIRED', 'no --port given', { hint: "pick one from 'kiln ports'" });
      if (Boolean(flags.elf) !== Boolean(flags.addr2line)) {
        throw new UsageError('MONITOR_DECODE_ARGS', 'decoding needs both --elf and --addr2line', {
          hint: '--elf build/app.elf --addr2line xtensa-esp32-elf-addr2line',
        });
      }
      new LineFilter(flags.filter); // a bad filter fails before the port opens
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      process.once('SIGTERM', onSigint);
      try {
        await monitor({
          port: flags.port,
          baud: Number(flags.baud),
          reset: flags.reset,
          filter: flags.filter,
          timestamps: flags.timestamps,
          color: flags.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR),
          log: flags.log,
          elf: flags.elf,
          addr2line: flags.addr2line,
          input: process.stdin,
          output: process.stdout,
          status: (t) => process.stderr.write(`${t}\n`),
          signal: abort.signal,
        });
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });
}
