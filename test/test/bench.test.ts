/**
 * startBench's refusals, each naming what is wrong: a real-board bench without the Wi-Fi
 * password, a USB match that finds no port, a port path that cannot be opened. Plus the
 * 4-board bench file the HIL benchmark runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startBench } from '../src/bench.ts';
import { type Bench, checkBench, loadBench } from '../src/bench-file.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(port: string): Bench {
  const { bench: b, issues } = checkBench(
    `name: lab
wifi: { ssid: Lab, psk_env: HIL_TEST_PSK }
duts:
  - { name: a, port: "${port}", chip: esp32, firmware: ../../firmware/build-host }
`,
    join(ROOT, 'hardware/benches/lab.yaml'),
  );
  expect(issues).toEqual([]);
  return b as Bench;
}

describe('startBench refuses', () => {
  it('a bench with real boards and no Wi-Fi password in the environment', async () => {
    await expect(startBench(bench('/dev/ttyUSB0'), { logDir: join(dir, 'a'), env: {} })).rejects.toMatchObject({
      code: 'BENCH_PSK',
      message: 'the Wi-Fi password for "Lab" goes in HIL_TEST_PSK',
    });
  });

  it('a USB serial number that matches no port', async () => {
    await expect(
      startBench(bench('usb:serial=KILN-NO-SUCH-BOARD'), { logDir: join(dir, 'b'), env: { HIL_TEST_PSK: 'pw' } }),
    ).rejects.toMatchObject({
      code: 'BENCH_PORT_NOT_FOUND',
      message: 'a: no port matches usb:serial=KILN-NO-SUCH-BOARD',
    });
  });

  it('a port path that cannot be opened, naming the DUT and the port', async () => {
    await expect(
      startBench(bench('/dev/ttyKILN-none'), { logDir: join(dir, 'c'), env: { HIL_TEST_PSK: 'pw' } }),
    ).rejects.toMatchObject({
      code: 'PORT_OPEN',
      message: expect.stringMatching(/^a: cannot open \/dev\/ttyKILN-none: /),
    });
  });
});

describe('hardware/benches/virtual-4.yaml', () => {
  it('is four virtual ESP32s on the host build, against the embedded gateway', () => {
    const b = loadBench(join(ROOT, 'hardware/benches/virtual-4.yaml'));
    expect(b.duts.map((d) => d.name)).toEqual(['dut-1', 'dut-2', 'dut-3', 'dut-4']);
    expect(b.duts.every((d) => d.port.kind === 'virtual' && d.firmware === join(ROOT, 'firmware/build-host'))).toBe(
      true,
    );
    expect(b.gateway).toEqual({ kind: 'embedded' });
  });
});
