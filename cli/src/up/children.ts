/**
 * "Nothing left running" includes processes that were sent SIGKILL but have not died
 * yet: a board's close() kills its kiln-device without waiting for it. Before `kiln up`
 * says it stopped, it waits until it has no child process left. Linux only (/proc);
 * elsewhere the wait is skipped and the kill alone has to do.
 *
 * One child is not ours: the esbuild service that tsx (which runs Kiln's TypeScript)
 * may start. It belongs to the runtime and ends with this process, so it is not waited for.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** This process's children (by the parent pid in /proc/<pid>/stat). */
export function childPids(parent = process.pid): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and ')': fields after its last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && !isEsbuildService(Number(e))) out.push(Number(e));
    } catch {
      // It ended while we looked.
    }
  }
  return out;
}

function isEsbuildService(pid: number): boolean {
  try {
    const [exe, ...args] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)esbuild$/.test(exe ?? '') && args.some((a) => a.startsWith('--service'));
  } catch {
    return false;
  }
}

/** Waits (polling) until there is no child process left, at most `ms`. Returns those left. */
export async function waitForChildren(ms: number): Promise<number[]> {
  if (!existsSync('/proc/self/stat')) return [];
  const until = Date.now() + ms;
  for (;;) {
    const left = childPids();
    if (left.length === 0 || Date.now() >= until) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}
