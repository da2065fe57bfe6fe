/**
 * The Dut against a virtual board running the firmware host build: expect/expectExact
 * return the match and read forward, a miss throws ExpectError with the log tail,
 * notExpect fails on a line already there or arriving, discard() drops the backlog,
 * enterBootloader() stops the app in the ROM loader (and reset() brings it back),
 * flash() skips unchanged regions unless noSkip, and reset methods a DUT cannot use
 * are refused with a reason. Every assertion reads what the board really printed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type RunningBoard, startBoard } from '@kiln/hardware';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOT_LINE, consoleStatus, expectBoot } from '../src/device-console.ts';
import { Dut, ExpectError } from '../src/dut.ts';

const BUILD = fileURLToPath(new URL('../../firmware/build-host', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-dut-test-'));
const boards: RunningBoard[] = [];
const duts: Dut[] = [];

async function board(name: string, withApp: boolean): Promise<RunningBoard> {
  const b = await startBoard({
    chip: 'esp32',
    flash: join(dir, `${name}.bin`),
    ...(withApp
      ? {
          firmware: {
            appBuilds: [BUILD],
            wifi: [{ ssid: 'KilnLab', psk: 'pw' }],
            appArgs: ['--telemetry-ms', '1000'],
            rebootDelayMs: 50,
          },
        }
      : {}),
  });
  boards.push(b);
  return b;
}

async function open(o: Parameters<typeof Dut.open>[0]): Promise<Dut> {
  const d = await Dut.open(o);
  duts.push(d);
  return d;
}

/** Waits until a line is in the DUT's unread output (so a check that must see it there can). */
async function unreadHas(dut: Dut, text: string): Promise<void> {
  const until = Date.now() + 5000;
  while (!dut.unread.includes(text)) {
    if (Date.now() > until) throw new Error(`"${text}" never arrived; unread: ${dut.unread.slice(-500)}`);
    await sleep(20);
  }
}

let dut: Dut;

beforeAll(async () => {
  const b = await board('main', true);
  dut = await open({ name: 'dut-t', port: b.url, logFile: join(dir, 'dut-t.log'), timeoutMs: 10_000 });
  await dut.flash(BUILD);
});

afterAll(async () => {
  await Promise.allSettled(duts.map((d) => d.close()));
  await Promise.allSettled(boards.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('Dut.expect', () => {
  it('returns the match, reads forward, and throws ExpectError with the log tail on a miss', async () => {
    await dut.reset();
    const boot = await expectBoot(dut);
    expect(boot.firmware).toBe('kiln_firmware');
    expect(boot.deviceId).toBeUndefined();
    await dut.write('version');
    const m = await dut.expectExact(`boot=${boot.bootId}`, { timeout: 5000 });
    expect(m[0]).toBe(`boot=${boot.bootId}`);
    // The boot line was consumed: it is not found again.
    const miss = await dut.expect(BOOT_LINE, { timeout: 400 }).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(ExpectError);
    const err = miss as ExpectError;
    expect(err.message).toContain(`dut-t: pattern ${BOOT_LINE} not found within 0.4 s`);
    expect(err.message).toContain(`(log: ${join(dir, 'dut-t.log')})`);
    expect(err.tail.some((l) => l.includes(`boot=${boot.bootId}`))).toBe(true);
  });

  it('reads a string as a regex, expectExact literally; one expect at a time', async () => {
    await dut.write('status');
    await expect(dut.expect('state=\\w+ reason=', { timeout: 5000 })).resolves.toBeTruthy();
    await dut.write('help');
    await expect(dut.expectExact('commands: status, version, reboot', { timeout: 5000 })).resolves.toBeTruthy();
    const first = dut.expect('never printed', { timeout: 300 }).catch(() => undefined);
    await expect(dut.expect('x', { timeout: 300 })).rejects.toMatchObject({ code: 'EXPECT_BUSY' });
    await first;
  });

  it('the log file has every line with a timestamp, and notes of resets', () => {
    const log = readFileSync(join(dir, 'dut-t.log'), 'utf8');
    expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} ---- reset$/m);
    expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} I \(\d+\) kiln: kiln_firmware 0\.1\.\d+, protocol kiln\.v1, boot /m);
    expect(log).toMatch(/^\d\d:\d\d:\d\d\.\d{3} kiln_firmware \S+ protocol=kiln\.v1 /m);
  });
});

describe('Dut.notExpect and discard', () => {
  it('passes while the pattern does not come', async () => {
    await expect(dut.notExpect(/kiln: rebooting/, { timeout: 500 })).resolves.toBeUndefined();
  });

  it('fails when the pattern arrives within the window', async () => {
    const pending = dut.notExpect(/protocol=kiln\.v1 rpc=/, { timeout: 3000 });
    await dut.write('version');
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpectError);
    expect((err as Error).message).toMatch(/pattern \/protocol=kiln\\\.v1 rpc=\/ appeared: "protocol=kiln\.v1 rpc="/);
  });

  it('fails at once when the pattern is already in the unread output', async () => {
    await dut.write('wifi');
    await unreadHas(dut, 'ssid="');
    const started = Date.now();
    await expect(dut.notExpect(/ssid="[^"]*" link=/, { timeout: 5000 })).rejects.toBeInstanceOf(ExpectError);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('discard() drops the backlog, so only what comes after can match', async () => {
    await dut.write('version');
    await unreadHas(dut, 'protocol=kiln.v1');
    dut.discard();
    expect(dut.unread).toBe('');
    await expect(dut.expect(/protocol=kiln\.v1/, { timeout: 400 })).rejects.toBeInstanceOf(ExpectError);
    const s = await consoleStatus(dut);
    expect(s.state).toBe('unprovisioned');
    expect(s.samples).toBeGreaterThanOrEqual(0);
  });
});

describe('Dut.enterBootloader and reset', () => {
  it('stops in the ROM loader (no app output), and reset() boots the app again', async () => {
    await dut.enterBootloader({ timeout: 5000 });
    // In download mode the app does not run: no boot line, and the console does not answer.
    await dut.write('version');
    await expect(dut.notExpect(/kiln: kiln_firmware|protocol=kiln\.v1/, { timeout: 1500 })).resolves.toBeUndefined();
    await dut.reset();
    const boot = await expectBoot(dut);
    expect(boot.protocol).toBe('kiln.v1');
    await dut.write('version');
    await dut.expectExact(`boot=${boot.bootId}`, { timeout: 5000 });
  });

  it('a DUT with reset: none cannot be reset; a power-switch command cannot enter the bootloader', async () => {
    const spare = await board('spare', false);
    const none = await open({ name: 'n', port: spare.url, logFile: join(dir, 'n.log'), reset: { kind: 'none' } });
    await expect(none.reset()).rejects.toMatchObject({ code: 'DUT_NO_RESET' });
    await expect(none.enterBootloader()).rejects.toMatchObject({ code: 'DUT_NO_RESET' });
    await none.close();
    const marker = join(dir, 'power-cycled');
    const cmd = await open({
      name: 'c',
      port: spare.url,
      logFile: join(dir, 'c.log'),
      reset: { kind: 'command', command: `echo cycled > '${marker}'` },
    });
    await cmd.reset();
    expect(readFileSync(marker, 'utf8')).toBe('cycled\n');
    await expect(cmd.enterBootloader()).rejects.toMatchObject({ code: 'DUT_NO_BOOTLOADER' });
    await cmd.close();
    const failing = await open({
      name: 'f',
      port: spare.url,
      logFile: join(dir, 'f.log'),
      reset: { kind: 'command', command: 'exit 3' },
    });
    await expect(failing.reset()).rejects.toMatchObject({ code: 'RESET_COMMAND' });
  });
});

describe('Dut.flash', () => {
  it('skips regions already written, rewrites all of them with noSkip, and boots the app', async () => {
    const same = await dut.flash(BUILD);
    // otadata may be written again: the second-stage bootloader updates it on each boot.
    expect(same.regions.filter((r) => r.skipped).map((r) => r.name)).toEqual(
      expect.arrayContaining(['bootloader', 'partition-table', 'app']),
    );
    await expectBoot(dut);
    const all = await dut.flash(BUILD, { noSkip: true });
    expect(all.regions.map((r) => r.name)).toEqual(expect.arrayContaining(['bootloader', 'partition-table', 'app']));
    expect(all.regions.filter((r) => r.skipped)).toEqual([]);
    await expectBoot(dut);
    expect(readFileSync(join(dir, 'dut-t.log'), 'utf8')).toMatch(/---- flashing .* \(every region\)$/m);
  });
});
