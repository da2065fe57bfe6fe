/** `kiln board` as a user runs it: a real process, its one line per board, SIGINT/SIGTERM, exit codes. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { reachable } from './helpers.ts';

const KILN = fileURLToPath(new URL('../../cli/bin/kiln.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
const started = new Set<ChildProcess>();

afterEach(() => {
  for (const p of started) p.kill('SIGKILL');
  started.clear();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `kiln board …` and resolves with the process and the first `lines` lines of stdout. */
function board(args: string[], lines = 1): Promise<{ proc: ChildProcess; lines: string[]; stderr: () => string }> {
  const proc = spawn(process.execPath, [KILN, 'board', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no output from kiln board; stderr: ${err}`)), 15_000);
    proc.stdout?.on('data', (d) => {
      out += d;
      const got = out.split('\n').filter(Boolean);
      if (got.length >= lines) {
        clearTimeout(timer);
        resolve({ proc, lines: got, stderr: () => err });
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`kiln board exited early; stderr: ${err}`));
    });
  });
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

describe('kiln board', () => {
  it('prints the URL it serves, runs until SIGTERM, and leaves the flash file whole', async () => {
    const flash = join(dir, 'one.bin');
    const { proc, lines } = await board(['--chip', 'esp32', '--flash', flash, '--listen', '127.0.0.1:0']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rfc2217:\/\/127\.0\.0\.1:\d+$/);
    expect(await reachable(lines[0] as string)).toBe(true);
    const code = exited(proc);
    proc.kill('SIGTERM');
    expect(await code).toBe(0);
    expect(statSync(flash).size).toBe(4 * 1024 * 1024);
    expect(await reachable(lines[0] as string)).toBe(false);
  });

  it('starts a bench with --count, one JSON line per board, and stops on SIGINT', async () => {
    const { proc, lines } = await board(
      [
        '--chip',
        'esp32c3',
        '--flash',
        join(dir, 'bench.bin'),
        '--count',
        '3',
        '--socket',
        '--json',
        '--flash-size',
        '2MB',
        '--mac',
        '34:85:18:00:00:fe',
      ],
      3,
    );
    const boards = lines.map((l) => JSON.parse(l));
    expect(boards.map((b) => b.chip)).toEqual(['esp32c3', 'esp32c3', 'esp32c3']);
    expect(boards.map((b) => b.mac)).toEqual(['34:85:18:00:00:fe', '34:85:18:00:00:ff', '34:85:18:00:01:00']);
    expect(boards.map((b) => b.flash)).toEqual([1, 2, 3].map((n) => join(dir, `bench-${n}.bin`)));
    expect(new Set(boards.flatMap((b) => [b.rfc2217, b.socket])).size).toBe(6);
    for (const b of boards) {
      expect(b.url).toBe(b.rfc2217);
      expect(b.socket).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
      expect(b.flashSize).toBe('2MB');
    }
    const code = exited(proc);
    proc.kill('SIGINT');
    expect(await code).toBe(0);
    for (const n of [1, 2, 3]) expect(statSync(join(dir, `bench-${n}.bin`)).size).toBe(2 * 1024 * 1024);
  });

  it('refuses bad input with exit code 2, a coded message and what to do', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [KILN, 'board', ...args], { encoding: 'utf8', timeout: 15_000 });
    const chip = run('--chip', 'esp8266', '--flash', join(dir, 'x.bin'));
    expect(chip.status).toBe(2);
    expect(chip.stderr).toContain('[BOARD_UNKNOWN_CHIP]');
    expect(chip.stderr).toContain('choose one of: esp32, esp32s3, esp32c3');
    expect(existsSync(join(dir, 'x.bin'))).toBe(false);
    const size = run('--flash', join(dir, 'y.bin'), '--flash-size', '3MB');
    expect(size.status).toBe(2);
    expect(size.stderr).toContain('[BOARD_BAD_FLASH_SIZE]');
    const open = run('--listen', '0.0.0.0:0', '--flash', join(dir, 'z.bin'));
    expect(open.status).toBe(2);
    expect(open.stderr).toContain('pass --public');
    expect(existsSync(join(dir, 'z.bin'))).toBe(false);
    const rate = run('--flash', join(dir, 'r.bin'), '--fault-bit-error-rate', '2');
    expect(rate.status).toBe(2);
    expect(rate.stderr).toContain('[BOARD_BAD_FAULT]');
    const direction = run('--flash', join(dir, 'd.bin'), '--fault-direction', 'sideways');
    expect(direction.stderr).toContain('to-board, to-host or both');
  });

  it('--help shows the options and examples', () => {
    const r = spawnSync(process.execPath, [KILN, 'board', '--help'], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(0);
    for (const flag of [
      '--chip',
      '--flash',
      '--flash-size',
      '--mac',
      '--listen',
      '--count',
      '--socket',
      '--json',
      '--app-build',
      '--timing',
      '--fault-seed',
      '--fault-bit-error-rate',
      '--fault-drop-rate',
      '--fault-direction',
      '--fault-power-cut-after',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('Examples:');
  });
});
