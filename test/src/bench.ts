/**
 * A bench, running: the gateway, a virtual board for each `port: virtual` DUT, every
 * DUT's port open with its log file, the firmware flashed once per run, and each DUT
 * provisioned once (on first need). `close()` stops all of it, also after a failure
 * half-way through starting.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ports } from '@kiln/flasher';
import { type RunningBoard, startBoard } from '@kiln/hardware';
import { UsageError } from '@kiln/protocol';
import type { ProvisionSummary } from '@kiln/provisioning';
import { type Bench, type DutSpec, type PortSpec, portLabel } from './bench-file.ts';
import { Dut } from './dut.ts';
import { BenchGateway } from './gateway.ts';

export interface BenchOptions {
  /** Where the per-DUT logs go (`<logDir>/<dut>.log`). */
  logDir: string;
  /** Default expect timeout; 30 s. */
  timeoutMs?: number;
  /** Skip flashing (the boards already run the build). Default false. */
  skipFlash?: boolean;
  env?: NodeJS.ProcessEnv;
  onStatus?: (line: string) => void;
}

export interface RunningBench {
  readonly bench: Bench;
  readonly gateway: BenchGateway;
  readonly duts: readonly Dut[];
  dut(name: string): Dut;
  /** The bench file's entry for a DUT (its firmware build, chip, tags). */
  spec(dut: Dut | string): DutSpec;
  /** Provisions the DUT once per run (later calls return the first summary). */
  provisioned(dut: Dut): Promise<ProvisionSummary>;
  close(): Promise<void>;
}

/**
 * The port a bench DUT is reached at: a path or URL as written, a usb:serial=… /
 * usb:location=… match resolved to its local path (exactly one port must match).
 * A `virtual` port has none until a board is started for it.
 */
export async function resolvePort(d: { name: string; port: PortSpec }): Promise<string> {
  const p = d.port;
  if (p.kind === 'path') return p.path;
  if (p.kind === 'url') return p.url;
  if (p.kind === 'virtual') throw new Error(`${d.name}: a virtual port is started (startBoard), not resolved`);
  const list = await ports();
  const found = list.filter((l) => (p.by === 'serial' ? l.serialNumber === p.value : l.location === p.value));
  if (found.length !== 1) {
    throw new UsageError(
      'BENCH_PORT_NOT_FOUND',
      `${d.name}: ${found.length ? 'several ports match' : 'no port matches'} ${portLabel(p)}`,
      { hint: 'kiln ports lists the serial ports with their serial numbers and locations' },
    );
  }
  return (found[0] as { path: string }).path;
}

export async function startBench(bench: Bench, o: BenchOptions): Promise<RunningBench> {
  const env = o.env ?? process.env;
  const status = o.onStatus ?? (() => {});
  const allVirtual = bench.duts.every((d) => d.port.kind === 'virtual');
  let psk = env[bench.wifi.pskEnv];
  if (!psk) {
    if (!allVirtual) {
      throw new UsageError('BENCH_PSK', `the Wi-Fi password for "${bench.wifi.ssid}" goes in ${bench.wifi.pskEnv}`, {
        hint: `export ${bench.wifi.pskEnv}=… (a virtual bench makes one up)`,
      });
    }
    psk = randomBytes(9).toString('base64url');
  }
  const network = { ssid: bench.wifi.ssid, psk };
  mkdirSync(o.logDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'kiln-hil-'));
  const boards: RunningBoard[] = [];
  const duts: Dut[] = [];
  let gateway: BenchGateway | undefined;
  const close = async () => {
    await Promise.allSettled(duts.map((d) => d.close()));
    await Promise.allSettled(boards.map((b) => b.close()));
    await gateway?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  };
  try {
    status(`gateway: ${bench.gateway.kind}`);
    gateway = await BenchGateway.start(bench.gateway, env);
    const gw = gateway;
    const opened = await Promise.all(
      bench.duts.map(async (d) => {
        let port: string;
        if (d.port.kind === 'virtual') {
          const board = await startBoard({
            chip: d.chip,
            flash: join(work, `${d.name}.flash.bin`),
            firmware: {
              appBuilds: [d.firmware],
              wifi: [network],
              appArgs: ['--backoff-base-ms', '200', '--backoff-cap-ms', '1000', '--telemetry-ms', '1000'],
              rebootDelayMs: 50,
            },
          });
          boards.push(board);
          port = board.url;
        } else port = await resolvePort(d);
        const dut = await Dut.open({
          name: d.name,
          port,
          logFile: join(o.logDir, `${d.name}.log`),
          reset: d.reset,
          baud: d.baud,
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
          provisionDefaults: {
            ssid: bench.wifi.ssid,
            psk,
            gateway: gw.deviceUrl,
            ...(gw.caPem ? { ca: gw.caPem } : {}),
            apiKey: gw.apiKey,
            deviceId: `hil-${d.name}`,
          },
        });
        duts.push(dut);
        status(`${d.name}: ${port}`);
        return dut;
      }),
    );
    if (!o.skipFlash) {
      await Promise.all(
        opened.map(async (dut, i) => {
          const spec = bench.duts[i] as DutSpec;
          const r = await dut.flash(spec.firmware);
          status(`${dut.name}: flashed ${r.regions.length} regions (${r.chip})`);
        }),
      );
    }
    const provisioned = new Map<Dut, Promise<ProvisionSummary>>();
    return {
      bench,
      gateway: gw,
      duts: opened,
      dut(name) {
        const d = opened.find((x) => x.name === name);
        if (!d) throw new UsageError('BENCH_NO_DUT', `no DUT named ${name} on bench ${bench.name}`);
        return d;
      },
      spec(dut) {
        const name = typeof dut === 'string' ? dut : dut.name;
        const s = bench.duts.find((x) => x.name === name);
        if (!s) throw new UsageError('BENCH_NO_DUT', `no DUT named ${name} on bench ${bench.name}`);
        return s;
      },
      provisioned(dut) {
        let p = provisioned.get(dut);
        if (!p) {
          p = dut.provision();
          provisioned.set(dut, p);
          p.catch(() => provisioned.delete(dut));
        }
        return p;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
