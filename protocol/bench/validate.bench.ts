/**
 * How much kiln.v1 validation costs on the gateway's hot path, against the floor of
 * merely parsing the same frames (JSON.parse), measured in the same run.
 */
import { validateMessage } from '../src/index.ts';

const telemetry = JSON.stringify({
  type: 'telemetry',
  seq: 5,
  ts: 1767225600123,
  metrics: { uptime_s: 42, heap_free: 183412, heap_min: 160112, rssi: -61.5, reconnects: 2, 'temp.chip': 41.25 },
});
const batch = JSON.stringify({
  type: 'telemetry_batch',
  seq: 9,
  samples: Array.from({ length: 64 }, (_, i) => ({
    seq: i,
    ts: 1767225600000 + i,
    metrics: { uptime_s: i, rssi: -60 },
  })),
});

function rate(fn: () => void, ms = 1500): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 500; i++) fn();
    n += 500;
  }
  return (n / ms) * 1000;
}

for (const [name, frame] of [
  ['telemetry (6 metrics)', telemetry],
  ['telemetry_batch (64 samples)', batch],
] as const) {
  const parse = rate(() => JSON.parse(frame));
  const validate = rate(() => {
    if (!validateMessage(frame, 'device').ok) throw new Error('benchmark frame is invalid');
  });
  console.log(
    `${name.padEnd(30)} JSON.parse ${Math.round(parse).toLocaleString('en')} msg/s | parse+validate ${Math.round(validate).toLocaleString('en')} msg/s | ratio ${(validate / parse).toFixed(2)}`,
  );
}
