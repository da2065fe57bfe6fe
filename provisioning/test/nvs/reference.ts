/** esp-idf-nvs-partition-gen (PyPI, in .venv) run on many CSVs in one Python process. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PYTHON = fileURLToPath(new URL('../../../.venv/bin/python', import.meta.url));
const DRIVER = fileURLToPath(new URL('./gen_batch.py', import.meta.url));

export interface Job {
  csv: string;
  out: string;
  size: number;
  version?: 1 | 2;
  /** Where relative file rows start. */
  cwd?: string;
}

/** The generator's image for each job, or its error. */
export function referenceImages(jobs: readonly Job[]): (Buffer | { error: string })[] {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run 'bash scripts/setup.sh'`);
  const input = JSON.stringify(jobs.map((j) => ({ ...j, size: `0x${j.size.toString(16)}`, version: j.version ?? 2 })));
  const r = spawnSync(PYTHON, [DRIVER], { input, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`gen_batch.py failed: ${r.stderr}`);
  const results = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]') as { ok: boolean; error?: string }[];
  return results.map((res, i) => (res.ok ? readFileSync((jobs[i] as Job).out) : { error: res.error ?? 'failed' }));
}
