/**
 * `kiln nvs gen` against Espressif's esp-idf-nvs-partition-gen (PyPI, in .venv): for
 * CSVs from property-based generation, the images are byte-identical (or both tools
 * refuse the CSV), and `kiln nvs dump` reads back the items the CSV holds.
 * KILN_FUZZ_RUNS=N for a longer run (default 200 CSVs, one Python process).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { dumpNvs, generateNvs } from '../../src/index.ts';
import { type CsvCase, csvCase } from './csv-arbitrary.ts';
import { referenceImages } from './reference.ts';

const RUNS = Number(process.env.KILN_FUZZ_RUNS || 200);
const SEED = Number(process.env.KILN_FUZZ_SEED || Date.now() % 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'kiln-nvs-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function mine(c: CsvCase, caseDir: string): Buffer | { error: string } {
  try {
    return generateNvs(c.csv, { size: c.size, baseDir: caseDir });
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('kiln nvs gen = esp-idf-nvs-partition-gen (property-based)', () => {
  it(`generates ${RUNS} random CSVs byte-identically (seed ${SEED})`, { timeout: 120_000 }, () => {
    const cases = fc.sample(csvCase, { numRuns: RUNS, seed: SEED });
    const jobs = cases.map((c, i) => {
      const caseDir = join(dir, `case-${i}`);
      mkdirSync(caseDir);
      for (const [name, data] of Object.entries(c.files)) writeFileSync(join(caseDir, name), data);
      writeFileSync(join(caseDir, 'in.csv'), c.csv);
      return { csv: join(caseDir, 'in.csv'), out: join(caseDir, 'ref.bin'), size: c.size, cwd: caseDir };
    });
    const reference = referenceImages(jobs);
    let generated = 0;
    cases.forEach((c, i) => {
      const job = jobs[i] as (typeof jobs)[number];
      const ref = reference[i];
      const got = mine(c, job.cwd);
      const where = `case ${i} (seed ${SEED}): ${job.csv}, size 0x${c.size.toString(16)}`;
      if (ref === undefined) throw new Error(`${where}: no reference result`);
      if (!Buffer.isBuffer(ref)) {
        expect(Buffer.isBuffer(got), `${where}: the generator refused it (${ref.error}), kiln did not`).toBe(false);
        return;
      }
      if (!Buffer.isBuffer(got)) throw new Error(`${where}: kiln refused a CSV the generator takes: ${got.error}`);
      const diff = got.findIndex((b, k) => b !== ref[k]);
      expect(diff === -1 && got.length === ref.length, `${where}: first difference at 0x${diff.toString(16)}`).toBe(
        true,
      );
      generated++;
      const dump = dumpNvs(got);
      expect(dump.problems, where).toEqual([]);
      if (c.items) expect(dump.items, where).toEqual(c.items);
    });
    // The corpus must mostly be CSVs that fit, not refusals.
    expect(generated).toBeGreaterThan(RUNS / 2);
  });
});
