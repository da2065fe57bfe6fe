/**
 * `npm run bench -- firmware-ram`: the firmware core's RAM on the host build, without
 * sanitizers and at -Os. Static RAM is .data + .bss of the core objects (kiln_device and
 * kiln_protocol, as `size` reports them; TLS, Wi-Fi and the port are not in them); peak
 * heap is what the core takes through cJSON's allocator (its only one) in a busy session
 * with provisioning RPCs (firmware/host/bench/kiln_ram_bench.c). Target: static + peak heap
 * at most 24 KiB for the core.
 *
 * The host is 64-bit and position-independent, so the figures are conservative for an
 * ESP32: pointers and cJSON nodes are bigger here, and const tables that hold pointers
 * land in .data.rel.ro (counted as .data by `size`), which is flash on the chip.
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
const LIBS = ['libkiln_device.a', 'libkiln_protocol.a'];
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const pad = (s: string, n: number) => s.padEnd(n);

// The measure: `size` (Berkeley) totals of .data and .bss over the core's objects.
let data = 0;
let bss = 0;
for (const lib of LIBS) {
  const totals =
    run('size', ['-t', join(build, lib)])
      .trim()
      .split('\n')
      .pop() ?? '';
  const [, d, b] = totals.trim().split(/\s+/).map(Number);
  data += d ?? 0;
  bss += b ?? 0;
}

// Breakdown: writable sections by name (`size -A`), and the biggest data/bss symbols.
const sections = new Map<string, number>();
const symbols: { name: string; size: number; kind: string }[] = [];
for (const lib of LIBS) {
  for (const line of run('size', ['-A', '-d', join(build, lib)]).split('\n')) {
    const m = /^(\.data\S*|\.bss\S*)\s+(\d+)/.exec(line);
    if (m?.[1] && m[2]) sections.set(m[1], (sections.get(m[1]) ?? 0) + Number(m[2]));
  }
  for (const line of run('nm', ['-S', '-t', 'd', '--size-sort', join(build, lib)]).split('\n')) {
    const m = /^\d+ (\d+) ([bBdD]) (\S+)$/.exec(line.trim());
    if (m?.[1] && m[2] && m[3]) symbols.push({ size: Number(m[1]), kind: m[2].toLowerCase(), name: m[3] });
  }
}
symbols.sort((a, b) => b.size - a.size);

const out = run(join(build, 'kiln_ram_bench'), []);
const peak = Number(/peak_heap_bytes (\d+)/.exec(out)?.[1]);
const parts = [...out.matchAll(/^static_part (.+) (\d+)$/gm)].map((m) => ({ name: m[1] ?? '', size: Number(m[2]) }));
const phases = [...out.matchAll(/^heap_phase (\S+) (\d+)$/gm)].map((m) => ({ name: m[1] ?? '', size: Number(m[2]) }));
const total = data + bss + peak;

console.log(`core static RAM (.data + .bss): ${data} + ${bss} = ${data + bss} bytes (${kib(data + bss)})`);
console.log(`core peak heap (cJSON, busy session): ${peak} bytes (${kib(peak)})`);
console.log(`core static + peak heap: ${total} bytes (${kib(total)})`);
console.log(`static / target: ${((data + bss) / TARGET).toFixed(2)} of ${kib(TARGET)}`);
console.log(`static + peak heap / target: ${(total / TARGET).toFixed(2)} of ${kib(TARGET)}`);
console.log('\nstatic by section (.data.rel.ro: const tables holding pointers, flash on the chip):');
for (const [name, size] of [...sections].sort((a, b) => b[1] - a[1])) {
  if (size > 0) console.log(`  ${pad(name, 22)} ${String(size).padStart(6)}`);
}
console.log('biggest static symbols:');
for (const s of symbols.slice(0, 8)) console.log(`  ${pad(s.name, 40)} ${String(s.size).padStart(6)}  ${s.kind}`);
console.log('the device instance (s_device) by part:');
for (const p of parts) console.log(`  ${pad(p.name, 56)} ${String(p.size).padStart(6)}`);
console.log('heap peak by phase (cJSON trees of gateway messages and command results):');
for (const p of phases) console.log(`  ${pad(p.name, 24)} ${String(p.size).padStart(6)}`);
if (/leaked_heap_bytes (\d+)/.exec(out)?.[1] !== '0') console.log('WARNING: the session leaked heap');
