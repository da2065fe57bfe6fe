/**
 * `kiln up`: the one-command main job (what `npm start` runs). A thin handler over
 * up(): flags checked by parseUpFlags; SIGINT/SIGTERM/SIGHUP, and stdout closing
 * under it (`kiln up --json | head -1`), turned into an orderly stop.
 */
import { KilnError } from '@kiln/protocol';
import type { Command } from 'commander';
import { DEFAULT_BOARDS, MAX_BOARDS, parseUpFlags, type UpFlags } from './options.ts';
import { up } from './up.ts';

const HELP = `
Starts the gateway (embedded MQTT broker, SQLite and a development CA in the data
dir, loopback only), ${DEFAULT_BOARDS} virtual ESP32 boards (or the boards of a bench file), flashes
the firmware host build to each (regions that already match are skipped), provisions
each one (Wi-Fi over Improv, gateway URL and CA over Kiln RPC, a key generated on
the device, registration with an enroll-only API key), then prints the dashboard,
REST and MQTT URLs and a live table of the devices until Ctrl+C. Ctrl+C (or SIGTERM)
stops the boards, their firmware processes, the broker and the gateway.

The data dir is kept: a second run finds the boards' flash, their keys and their
enrolment, and only re-verifies them. The operator's admin API key is written to
<data-dir>/operator-api-key (mode 0600) and never printed. Serial logs of every
board and the gateway's log are in <data-dir>/logs/.

--until-online exits as soon as every device is online (exit 0), printing the
time since the start; if that takes longer than --timeout, or a device fails to
come up, everything is stopped and the exit code says why.

Exit codes: 0 all online (--until-online), stopped by Ctrl+C once up, or stopped
because stdout was closed (kiln up --json | head -1); 2 bad
options, bench file, missing firmware build, a taken port or data dir; 4 not all
online within --timeout; 3/4/5/6 a device failed to flash or provision (that
failure's code); 130 interrupted before every device was up (docs/EXIT-CODES.md).

Examples:
  kiln up
      gateway + 3 virtual boards, live table; Ctrl+C stops everything
  kiln up --boards 5 --chip esp32c3
      five virtual ESP32-C3 boards
  kiln up --until-online --timeout 60 --json
      CI smoke test: JSON events, exit 0 once all are online, 4 after 60 s
  kiln up --bench hardware/benches/virtual.yaml
      the boards of a bench file (real ports, or "virtual")
  kiln up --data-dir /tmp/kiln-demo --listen 127.0.0.1:8443
      another data dir, the gateway on a fixed port`;

/** The abort reason when stdout's reader has gone (up() words it as "stopped by stdout closing"). */
const STDOUT_CLOSED = 'stdout closing';

export function registerCommands(program: Command): void {
  program
    .command('up')
    .description('the one-command demo: gateway + boards (virtual by default), flashed, provisioned, live')
    .option('--boards <n>', `how many virtual boards (1..${MAX_BOARDS}; default ${DEFAULT_BOARDS})`)
    .option('--bench <file>', 'the boards of a bench file instead (hardware/benches/*.yaml)')
    .option('--chip <chip>', 'what the virtual boards are: esp32, esp32s3, esp32c3', 'esp32')
    .option('--firmware <dir>', 'the build dir to flash (default: the firmware host build for --chip)')
    .option('--data-dir <dir>', 'gateway state, board flash, logs, operator key', '.kiln/up')
    .option('--listen <host:port>', 'where the gateway listens (loopback; port 0 picks a free one)', '127.0.0.1:0')
    .option('--mqtt-listen <host:port>', 'where the MQTT broker listens (loopback)', '127.0.0.1:0')
    .option('--telemetry <seconds>', 'how often devices send telemetry', '2')
    .option('--until-online', 'exit once every device is online (exit 0), printing the time it took')
    .option('--timeout <seconds>', 'with --until-online: give up this long after the start (exit 4)', '120')
    .option('--json', 'one JSON event per line on stdout instead of text and the table')
    .addHelpText('after', HELP)
    .action(async (flags: UpFlags) => {
      const options = parseUpFlags(flags);
      const controller = new AbortController();
      // The reader went away (a pipe's head exited, the terminal closed): stop as Ctrl+C does,
      // write nothing more there, and exit 0 — what a pipeline's first command is expected to do.
      let stdoutGone = false;
      process.stdout.on('error', () => {
        if (stdoutGone) return;
        stdoutGone = true;
        controller.abort(STDOUT_CLOSED);
      });
      // Nowhere left to report a failed write to stderr.
      process.stderr.on('error', () => {});
      let firstSignalAt: number | undefined;
      const onSignal = (sig: NodeJS.Signals) => {
        if (firstSignalAt === undefined) {
          firstSignalAt = Date.now();
          controller.abort(sig);
          return;
        }
        // One Ctrl+C often arrives twice: from the terminal to the whole process group and
        // forwarded by `npm start`. Only a later one means "stop waiting".
        if (Date.now() - firstSignalAt < 1000) return;
        // Leave now. The boards' kiln-device processes end by themselves when their UART
        // (a pipe from this process) closes with us.
        process.stderr.write(`kiln up: ${sig} again, exiting without waiting\n`);
        process.exit(130);
      };
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of signals) process.on(s, onSignal);
      try {
        await up(
          options,
          {
            out: (t) => {
              if (!stdoutGone) process.stdout.write(t);
            },
            err: (t) => process.stderr.write(t),
            tty: Boolean(process.stdout.isTTY),
          },
          controller.signal,
        );
      } catch (e) {
        // Stopped because nobody reads any more: that was the way to stop, not a failure.
        if (controller.signal.reason === STDOUT_CLOSED && e instanceof KilnError && e.code === 'INTERRUPTED') return;
        throw e;
      } finally {
        for (const s of signals) process.off(s, onSignal);
      }
    });
}
