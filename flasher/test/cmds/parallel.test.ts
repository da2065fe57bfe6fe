/**
 * Parallel flashing (issue 4, Deliver 5) and reading the table from a device: three
 * virtual boards, one of them gone (its port unreachable). The two others are flashed
 * and verified, the summary table names all three, and the exit code is the port's (3).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode } from '@kiln/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { flashMany, ParallelFlashError } from '../../src/cmds/flash-many.ts';
import { FIXTURE_BUILD, KILN, killChildren, Lab, run } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});
afterAll(killChildren);

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

describe('kiln flash with several ports', () => {
  it('flashes the reachable boards concurrently, reports each, and fails with the first failure’s exit code', async () => {
    lab = new Lab();
    const [a, b, gone] = [await lab.board(), await lab.board(), await lab.board()];
    const goneUrl = gone.url;
    await gone.close();
    const r = await run(process.execPath, [KILN, 'flash', FIXTURE_BUILD, '-p', a.url, '-p', goneUrl, '-p', b.url]);
    expect(r.code, r.stderr).toBe(ExitCode.PORT);
    const table = r.stdout.split('\n');
    expect(table.find((l) => l.startsWith('PORT'))).toMatch(/PORT\s+RESULT\s+CHIP\s+TIME\s+DETAIL/);
    expect(table.find((l) => l.startsWith(a.url))).toMatch(
      /ok\s+esp32\s+[\d.]+ s\s+3 written, 0 already there, verified/,
    );
    expect(table.find((l) => l.startsWith(b.url))).toMatch(/ok\s+esp32/);
    expect(table.find((l) => l.startsWith(goneUrl))).toMatch(/FAILED\s+.*PORT_UNREACHABLE/);
    expect(r.stdout).toContain('2 of 3 devices flashed and verified.');
    expect(r.stderr).toContain(`[${a.url}] Verified app at 0x10000`);
    expect(r.stderr).toMatch(/2 of 3 devices failed|1 of 3 devices failed/);
    const app = readFileSync(join(FIXTURE_BUILD, 'hello_world.bin'));
    for (const board of [a, b]) {
      expect(md5(board.board.flash.read(0x10000, app.length))).toBe(md5(app));
    }

    // The table the build wrote, read back from a device.
    const show = await run(process.execPath, [KILN, 'partitions', 'show', '--port', a.url, '--json']);
    expect(show.code, show.stderr).toBe(0);
    const shown = JSON.parse(show.stdout) as { partitions: { label: string; offset: number }[]; md5: boolean };
    expect(shown.md5).toBe(true);
    expect(shown.partitions.map((p) => [p.label, p.offset])).toEqual([
      ['nvs', 0x9000],
      ['phy_init', 0xf000],
      ['factory', 0x10000],
    ]);
  });

  it('gives every outcome through the API, tagging events with the device', async () => {
    lab = new Lab();
    const a = await lab.board();
    const seen = new Set<string>();
    const error = await flashMany({
      ports: [a.url, 'rfc2217://127.0.0.1:1'],
      inputs: [`${join(FIXTURE_BUILD, 'partition_table/partition-table.bin')}@0x8000`],
      onEvent: (port, e) => seen.add(`${port} ${e.type}`),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ParallelFlashError);
    const outcomes = (error as ParallelFlashError).outcomes;
    expect(outcomes.map((o) => [o.port, o.ok])).toEqual([
      [a.url, true],
      ['rfc2217://127.0.0.1:1', false],
    ]);
    expect(seen).toContain(`${a.url} region-verified`);
    expect(seen).toContain('rfc2217://127.0.0.1:1 connecting');
  });
});
