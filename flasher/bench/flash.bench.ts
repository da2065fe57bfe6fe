/**
 * `npm run bench -- flash` (issue 4, Deliver 7): flashing a 1 MiB app plus the
 * bootloader and partition table onto virtual ESP32s with the timing model on (UART
 * 10 bits a byte at the baud rate, W25Q32JV erase/program times), at 115200, 460800
 * and 921600 baud. For each rate: Kiln's time and throughput, the wire-limit minimum
 * (deflated bytes × 10 / baud, plus the flash's erase and program time) and the ratio,
 * then Espressif's esptool on a fresh board in the same run and the Kiln/esptool time
 * ratio. Last, 4 boards flashed in parallel against 1.
 *
 * Targets (issue 4): ≥ 90 % of the wire limit at 921600; not slower than esptool;
 * 4 boards within 1.25× the time of one. Figures are printed whether or not they are met.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { flashBusyMs, type RunningBoard, startBoard, wireTimeMs } from '@kiln/hardware';
import { flash } from '../src/cmds/flash.ts';
import { flashMany } from '../src/cmds/flash-many.ts';
import { loadFlashPlan } from '../src/plan.ts';

const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/esp-idf-builds/hello_world_esp32', import.meta.url));
const ESPTOOL = fileURLToPath(new URL('../../.venv/bin/esptool', import.meta.url));
const BAUDS = (process.env.KILN_BENCH_BAUDS ?? '115200,460800,921600').split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'kiln-flash-bench-'));
const boards: RunningBoard[] = [];
let n = 0;

/** A 1 MiB app that deflates like code: the hello_world app repeated (further apart than deflate's window). */
function app1MiB(): Buffer {
  const one = readFileSync(join(FIXTURE, 'hello_world.bin'));
  const out = Buffer.alloc(1 << 20);
  for (let at = 0; at < out.length; at += one.length) one.copy(out, at);
  return out;
}

const files = {
  boot: join(FIXTURE, 'bootloader/bootloader.bin'),
  table: join(FIXTURE, 'partition_table/partition-table.bin'),
  app: join(dir, 'app-1MiB.bin'),
};
writeFileSync(files.app, app1MiB());
const inputs = [`${files.boot}@0x1000`, `${files.table}@0x8000`, `${files.app}@0x10000`];
const plan = loadFlashPlan(inputs);

async function board(): Promise<RunningBoard> {
  const b = await startBoard({ chip: 'esp32', flash: join(dir, `board-${++n}.bin`), timing: true });
  boards.push(b);
  return b;
}

/** Deflated bytes × 10 / baud, plus erasing (64 KiB blocks where aligned, else 4 KiB sectors) and programming. */
function wireLimitSeconds(baud: number): { seconds: number; compressed: number } {
  let ms = 0;
  let compressed = 0;
  for (const r of plan.regions) {
    const c = deflateSync(r.data, { level: 9 }).length;
    compressed += c;
    ms += wireTimeMs(c, baud);
    ms += flashBusyMs({ kind: 'program', offset: r.address, length: r.data.length });
    for (let at = r.address; at < r.address + r.data.length; ) {
      const block = at % 0x10000 === 0 && at + 0x10000 <= r.address + r.data.length;
      ms += flashBusyMs({ kind: block ? 'erase-block' : 'erase-sector', offset: at });
      at += block ? 0x10000 : 0x1000;
    }
  }
  return { seconds: ms / 1000, compressed };
}

async function kiln(baud: number): Promise<number> {
  const b = await board();
  const t = performance.now();
  await flash({ port: b.url, baud, plan, noSkip: true });
  return (performance.now() - t) / 1000;
}

async function esptool(baud: number): Promise<number | undefined> {
  const b = await board();
  const args = ['--chip', 'esp32', '--port', b.url, '--baud', String(baud), 'write-flash'];
  const t = performance.now();
  // spawnSync would block the boards living in this process: run it asynchronously.
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(ESPTOOL, [...args, '0x1000', files.boot, '0x8000', files.table, '0x10000', files.app], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('close', (c: number | null) => {
      if (c !== 0) process.stderr.write(err.slice(-2000));
      resolve(c);
    });
  });
  return code === 0 ? (performance.now() - t) / 1000 : undefined;
}

const f = (x: number, d = 2) => x.toFixed(d);

try {
  const hasEsptool = spawnSync(ESPTOOL, ['version']).status === 0;
  const total = plan.regions.reduce((s, r) => s + r.data.length, 0);
  console.log(
    `flash: ${plan.regions.length} regions, ${total} bytes (1 MiB app + bootloader + partition table), timing model on`,
  );
  console.log('baud     kiln s  KiB/s  wire-limit s  kiln/limit  esptool s  kiln/esptool');
  let single921 = 0;
  for (const baud of BAUDS) {
    const limit = wireLimitSeconds(baud);
    const k = await kiln(baud);
    if (baud === 921600) single921 = k;
    const e = hasEsptool ? await esptool(baud) : undefined;
    console.log(
      `${String(baud).padEnd(8)} ${f(k).padStart(6)}  ${f(total / 1024 / k, 0).padStart(5)}  ${f(limit.seconds).padStart(12)}  ${`${f((limit.seconds / k) * 100, 0)} %`.padStart(10)}  ${(e === undefined ? 'n/a' : f(e)).padStart(9)}  ${(e === undefined ? 'n/a' : f(k / e)).padStart(12)}`,
    );
  }
  const baud = BAUDS.includes(921600) ? 921600 : (BAUDS.at(-1) as number);
  const one = single921 || (await kiln(baud));
  const four = await Promise.all([board(), board(), board(), board()]);
  const t = performance.now();
  await flashMany({ ports: four.map((b) => b.url), baud, plan, noSkip: true });
  const parallel = (performance.now() - t) / 1000;
  console.log(
    `parallel at ${baud}: 4 boards ${f(parallel)} s vs 1 board ${f(one)} s: ${f(parallel / one)}x (target ≤ 1.25x)`,
  );
} finally {
  await Promise.all(boards.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
}
