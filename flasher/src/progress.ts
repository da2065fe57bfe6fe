/**
 * How events reach a person or a tool: progress bars per region on a terminal
 * (cli-progress: bytes, rate, ETA), plain lines when stderr is not a terminal,
 * one JSON object per line with --json, nothing but errors with --quiet.
 */
import cliProgress from 'cli-progress';
import type { EventSink, FlasherEvent } from './events.ts';
import { hex } from './plan.ts';

export type ReportMode = 'auto' | 'json' | 'quiet' | 'lines' | 'bars';

export interface Reporter {
  onEvent: EventSink;
  /** Stops any bar still drawn; call before printing results or errors. */
  stop(): void;
}

export function createReporter(
  mode: ReportMode,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): Reporter {
  if (mode === 'quiet') return { onEvent: () => {}, stop: () => {} };
  if (mode === 'json') {
    return {
      onEvent: (e) => out.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`),
      stop: () => {},
    };
  }
  const bars = mode === 'bars' || (mode === 'auto' && err.isTTY === true);
  let multibar: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    multibar?.stop();
    multibar = undefined;
    bar = undefined;
  };
  const line = (text: string) => {
    if (multibar) multibar.log(`${text}\n`);
    else err.write(`${text}\n`);
  };
  const onEvent = (e: FlasherEvent) => {
    switch (e.type) {
      case 'connecting':
        return line(`Connecting to ${e.port}…`);
      case 'connected':
        return line(`Connected: ${e.description} (${e.chip})`);
      case 'region-start':
        if (bars) {
          multibar ??= new cliProgress.MultiBar(
            {
              stream: err,
              format: ' {name} |{bar}| {percentage}% {value}/{total} B {rate} ETA {eta_formatted}',
              hideCursor: true,
              clearOnComplete: false,
            },
            cliProgress.Presets.shades_classic,
          );
          bar = multibar.create(e.size, 0, { name: `${e.name}@0x${hex(e.address)}`.padEnd(28), rate: '' });
        } else {
          line(`Writing ${e.name} at 0x${hex(e.address)} (${e.size} bytes)…`);
        }
        return;
      case 'progress':
        if (bar) {
          const seconds = Math.max(0.001, (Date.now() - (bar as unknown as { startTime: number }).startTime) / 1000);
          bar.setTotal(e.total);
          bar.update(e.written, { rate: `${Math.round(e.written / seconds / 1024)} KiB/s` });
        }
        return;
      case 'region-skipped':
        return line(`Skipped ${e.name} at 0x${hex(e.address)}: already on the device (MD5 ${e.md5})`);
      case 'region-verified':
        bar?.stop();
        return line(
          `Verified ${e.name} at 0x${hex(e.address)}: ${e.size} bytes in ${e.seconds.toFixed(2)} s (MD5 ${e.md5})`,
        );
      case 'erased':
        return line(
          e.size === 'all' ? 'Erased the whole flash' : `Erased 0x${hex(e.address)}..0x${hex(e.address + e.size)}`,
        );
      case 'reset':
        if (e.done && e.how !== 'no-reset')
          line(e.how === 'hard-reset' ? 'Hard reset: the app is running' : 'Left in the ROM loader');
        return;
      case 'warning':
        return line(`warning: ${e.message}`);
    }
  };
  return { onEvent, stop };
}

/**
 * Reporting for several devices at once (kiln flash with several --port): one bar per
 * device on a terminal, lines prefixed with the port otherwise, JSON events tagged
 * with `device`, or nothing.
 */
export interface ParallelReporter {
  onEvent(port: string, event: FlasherEvent): void;
  stop(): void;
}

export function createParallelReporter(
  mode: ReportMode,
  ports: readonly string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
): ParallelReporter {
  if (mode === 'quiet') return { onEvent: () => {}, stop: () => {} };
  if (mode === 'json') {
    return {
      onEvent: (port, e) => out.write(`${JSON.stringify({ ...e, device: port, time: new Date().toISOString() })}\n`),
      stop: () => {},
    };
  }
  const width = Math.max(...ports.map((p) => p.length));
  if (mode === 'bars' || (mode === 'auto' && err.isTTY === true)) {
    const multibar = new cliProgress.MultiBar(
      {
        stream: err,
        format: ' {port} {name} |{bar}| {percentage}% {state}',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    const bars = new Map(
      ports.map((p) => [p, multibar.create(1, 0, { port: p.padEnd(width), name: ''.padEnd(20), state: 'connecting' })]),
    );
    return {
      onEvent: (port, e) => {
        const bar = bars.get(port);
        if (!bar) return;
        if (e.type === 'connected') bar.update(0, { state: e.chip });
        else if (e.type === 'region-start') {
          bar.setTotal(e.size);
          bar.update(0, { name: `${e.name}@0x${hex(e.address)}`.padEnd(20), state: 'writing' });
        } else if (e.type === 'progress') {
          bar.setTotal(e.total);
          bar.update(e.written);
        } else if (e.type === 'region-verified') bar.update({ state: 'verified' });
        else if (e.type === 'region-skipped')
          bar.update({ name: `${e.name}@0x${hex(e.address)}`.padEnd(20), state: 'already there' });
        else if (e.type === 'reset') bar.update({ state: 'done' });
      },
      stop: () => multibar.stop(),
    };
  }
  const reporters = new Map(
    ports.map((p) => {
      const prefixed = { isTTY: false, write: (t: string) => err.write(`[${p.padEnd(width)}] ${t}`) };
      return [p, createReporter('lines', out, prefixed as unknown as NodeJS.WriteStream)];
    }),
  );
  return {
    onEvent: (port, e) => reporters.get(port)?.onEvent(e),
    stop: () => {
      for (const r of reporters.values()) r.stop();
    },
  };
}
