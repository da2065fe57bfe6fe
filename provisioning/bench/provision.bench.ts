/**
 * `npm run bench -- provision` (issue 7): how long `kiln provision` takes a blank
 * virtual ESP32 running the firmware host build to "online at the gateway", with the
 * boards' timing model on (UART bytes take their time at 115200 baud, flash writes
 * take W25Q32JV times): one device, then 8 boards in parallel, for keys made on the
 * device (Improv + RPC) and for factory mode (host keys, NVS image flashed). Prints
 * each figure and the 8-board/1-board ratio. Gateway: real, in-process, dev TLS.
 */
import { readFileSync } from 'node:fs';
import { type BatchDevice, provisionBatch } from '../src/provision/batch.ts';
import { provision } from '../src/provision/provision.ts';
import { type Rig, startRig } from '../test/provision/bench.ts';

const PSK = 'bench-psk-1234';
const N = Number(process.env.KILN_BENCH_BOARDS ?? 8);
let id = 0;

async function boards(rig: Rig, n: number): Promise<BatchDevice[]> {
  const out: BatchDevice[] = [];
  for (let i = 0; i < n; i++) {
    const b = await rig.board(`KilnLab:${PSK}`, { timing: true });
    out.push({ port: b.url, deviceId: `bench-${++id}`, line: i + 2 });
  }
  return out;
}

async function run(rig: Rig, devices: BatchDevice[], hostKeys: boolean): Promise<number> {
  const t0 = performance.now();
  const ca = readFileSync(rig.caPath, 'utf8');
  if (devices.length === 1 && !hostKeys) {
    const d = devices[0] as BatchDevice;
    await provision({
      port: d.port,
      deviceId: d.deviceId,
      ssid: 'KilnLab',
      psk: PSK,
      gateway: rig.deviceUrl,
      ca,
      apiKey: rig.apiKey,
    });
  } else {
    const report = await provisionBatch({
      devices,
      ssid: 'KilnLab',
      psk: PSK,
      gateway: rig.deviceUrl,
      ca,
      apiKey: rig.apiKey,
      hostKeys,
    });
    const failed = report.devices.filter((d) => d.status === 'failed');
    if (failed.length) throw new Error(`failed: ${failed.map((f) => `${f.deviceId}: ${f.error?.message}`).join('; ')}`);
  }
  return performance.now() - t0;
}

const rig = await startRig();
try {
  console.log(`provisioning to "online at the gateway", virtual ESP32s with the timing model, 115200 baud`);
  for (const hostKeys of [false, true]) {
    const mode = hostKeys ? 'factory (host keys, NVS image)' : 'on-device keys (Improv + RPC)';
    const one = await run(rig, await boards(rig, 1), hostKeys);
    const many = await run(rig, await boards(rig, N), hostKeys);
    console.log(
      `  ${mode.padEnd(34)} 1 board ${(one / 1000).toFixed(2)} s   ${N} boards in parallel ${(many / 1000).toFixed(2)} s   ratio ${(many / one).toFixed(2)}×`,
    );
  }
} finally {
  await rig.stop();
}
