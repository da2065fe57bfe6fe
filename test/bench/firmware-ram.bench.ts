/**
 * `npm run bench -- firmware-ram`: the firmware core's RAM on the host build, without
 * sanitizers and at -Os. Static RAM is .data + .bss of the core objects (kiln_device and
 * kiln_protocol, as `size` reports them; TLS, Wi-Fi and the port are not in them); peak
 * heap is what the core takes through cJSON (its only allocator) in a busy session
 * (firmware/host/bench/kiln_ram_bench.c). Target: at most 24 KiB for the core.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const build = join(root, 'firmware', 'build-bench');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', cwd: root });

run('cmake', [
  '-S',
  'firmware/host',
  '-B',
  build,
  '-DKILN_SANITIZE=OFF',
  '-DKILN_HOST_LIBS_ONLY=ON',
  '-DCMAKE_BUILD_TYPE=MinSizeRel',
]);
run('cmake', ['--build', build, '-j2']);

const TARGET = 24 * 1024;
let data = 0;
let bss = 0;
for (const lib of ['libkiln_device.a', 'libkiln_protocol.a']) {
  const totals =
    run('size', ['-t', join(build, lib)])
      .trim()
      .split('\n')
      .pop() ?? '';
  const [, d, b] = totals.trim().split(/\s+/).map(Number);
  data += d ?? 0;
  bss += b ?? 0;
}
const peak = Number(/peak_heap_bytes (\d+)/.exec(run(join(build, 'kiln_ram_bench'), []))?.[1]);
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`core static RAM (.data + .bss): ${data} + ${bss} = ${data + bss} bytes (${kib(data + bss)})`);
console.log(`core peak heap (cJSON, busy session): ${peak} bytes (${kib(peak)})`);
console.log(`static / target: ${((data + bss) / TARGET).toFixed(2)} of ${kib(TARGET)}`);
console.log(`static + peak heap / target: ${((data + bss + peak) / TARGET).toFixed(2)} of ${kib(TARGET)}`);
