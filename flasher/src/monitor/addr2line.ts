/** Decoding code addresses with a toolchain's addr2line (`-pfiaC`, as esp-idf-monitor runs it). */
import { spawnSync } from 'node:child_process';

export function addr2lineDecoder(addr2line: string, elf: string): (addresses: string[]) => Map<string, string> {
  return (addresses) => {
    const out = new Map<string, string>();
    const r = spawnSync(addr2line, ['-pfiaC', '-e', elf, ...addresses], { encoding: 'utf8', timeout: 5000 });
    if (r.status !== 0 || !r.stdout) return out;
    let last: string | undefined;
    for (const line of r.stdout.split('\n')) {
      const m = /^(0x[0-9a-f]+): (.*)$/i.exec(line.trim());
      if (m?.[1] && m[2] !== undefined) {
        last = `0x${m[1]
          .slice(2)
          .replace(/^0+(?=[0-9a-f]{8})/i, '')
          .toLowerCase()}`;
        if (!/^\?\? \?\?:0$/.test(m[2])) out.set(last, m[2]);
      } else if (last && out.has(last) && line.trim().startsWith('(inlined by)')) {
        out.set(last, `${out.get(last)} ${line.trim()}`);
      }
    }
    return out;
  };
}
