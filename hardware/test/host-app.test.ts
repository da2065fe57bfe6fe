/**
 * The host build as the app, as a user of the board relies on it: the simulated Wi-Fi
 * network reaches kiln-device through its environment and never its command line (which
 * every user's ps shows), the device joins that network, and closing the board resolves
 * only once kiln-device has exited — SIGTERM first, SIGKILL after the grace period for
 * a process that does not act on it. Also `kiln board`'s flags for the network.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNvs } from '@kiln/provisioning';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HostApp, HostBuilds } from '../src/boot/host-app.ts';
import { formatNetworks, parseNetworks, type SimulatedNetwork } from '../src/boot/simulated-wifi.ts';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { type RunningBoard, startBoard } from '../src/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOST_BUILD = join(ROOT, 'firmware/build-host');
const KILN = join(ROOT, 'cli/bin/kiln.js');
const NVS = { offset: 0x9000, size: 0x4000 }; // the host build's partition table
const dir = mkdtempSync(join(tmpdir(), 'kiln-host-app-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The host build's images at their flasher_args.json offsets, and Wi-Fi credentials in the NVS partition. */
function flashImage(ssid: string, psk: string): Buffer {
  const flash = Buffer.alloc(4 << 20, 0xff);
  const args = JSON.parse(readFileSync(join(HOST_BUILD, 'flasher_args.json'), 'utf8')) as {
    flash_files: Record<string, string>;
  };
  for (const [offset, file] of Object.entries(args.flash_files)) {
    readFileSync(join(HOST_BUILD, file)).copy(flash, Number(offset));
  }
  encodeNvs(
    [
      { namespace: 'kiln', key: 'wifi_ssid', type: 'blob', value: Buffer.from(ssid) },
      { namespace: 'kiln', key: 'wifi_pass', type: 'blob', value: Buffer.from(psk) },
    ],
    NVS.size,
  ).copy(flash, NVS.offset);
  return flash;
}

/** A board whose flash holds the host build and credentials for `KilnLab`/`nvsPsk`, its serial output collected. */
async function boardWithApp(
  nvsPsk: string,
  wifi: readonly SimulatedNetwork[],
): Promise<{ running: RunningBoard; log: () => string }> {
  const flash = FlashChip.inMemory();
  flash.program(0, flashImage('KilnLab', nvsPsk));
  const running = await startBoard({
    chip: 'esp32',
    flash,
    strapWindowMs: 1,
    firmware: { appBuilds: [HOST_BUILD], wifi, rebootDelayMs: 50 },
  });
  cleanup.push(() => running.close());
  let text = '';
  const port = running.board.connect((d) => {
    text += d.toString('latin1');
  });
  if (!port) throw new Error('the board’s port is taken');
  cleanup.push(() => port.close());
  return { running, log: () => text };
}

async function until<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function hostPid(running: RunningBoard): number | undefined {
  const app = running.board.app;
  return app?.kind === 'host' ? app.pid : undefined;
}

/** Whether a process is there at all (a zombie too: it has not been waited for). */
const exists = (pid: number) => existsSync(`/proc/${pid}`);

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

describe('the simulated Wi-Fi network of the host app', () => {
  it('reaches kiln-device in its environment, not its command line, and the device joins it', async () => {
    const psk = `pw-${randomBytes(12).toString('hex')}`;
    const { running, log } = await boardWithApp(psk, [{ ssid: 'KilnLab', psk }]);
    const pid = await until('kiln-device', () => hostPid(running));
    const argv = cmdline(pid);
    expect(argv[0]).toMatch(/kiln-device$/);
    expect(argv).toContain('--nvs'); // the command line is read whole, not an empty one
    expect(argv.join(' ')).not.toContain(psk);
    expect(argv).not.toContain('--wifi');
    // Only its owner (and root) can read a process's environment; everyone can read its command line.
    expect(environ(pid)).toContain(`KILN_WIFI=KilnLab:${psk}`);
    expect(statSync(`/proc/${pid}/environ`).mode & 0o077).toBe(0);
    expect(statSync(`/proc/${pid}/cmdline`).mode & 0o004).toBe(0o004);
    await until('the Wi-Fi connection', () => (log().includes('Wi-Fi connected to "KilnLab"') ? true : undefined));
    expect(log()).not.toContain(psk);
  }, 20_000);

  it('is the one the device checks the password against: another password does not join', async () => {
    const { running, log } = await boardWithApp('what-the-device-holds', [{ ssid: 'KilnLab', psk: 'the-real-one' }]);
    await until('kiln-device', () => hostPid(running));
    await until('the failed connection', () =>
      log().includes('Wi-Fi could not connect to "KilnLab"') ? true : undefined,
    );
    expect(log()).not.toContain('Wi-Fi connected');
  }, 20_000);

  it('is never inherited from the process that runs the board', async () => {
    process.env.KILN_WIFI = 'KilnLab:inherited';
    cleanup.push(() => delete process.env.KILN_WIFI);
    const { running, log } = await boardWithApp('inherited', []);
    const pid = await until('kiln-device', () => hostPid(running));
    expect(environ(pid).filter((e) => e.startsWith('KILN_WIFI='))).toEqual([]);
    await until('the failed connection', () =>
      log().includes('Wi-Fi could not connect to "KilnLab"') ? true : undefined,
    );
  }, 20_000);

  it('refuses --wifi in the app arguments, and networks kiln-device cannot read, without echoing a password', async () => {
    await expect(
      startBoard({
        chip: 'esp32',
        flash: FlashChip.inMemory(),
        firmware: { appBuilds: [HOST_BUILD], appArgs: ['--wifi', 'KilnLab:secret'] },
      }),
    ).rejects.toMatchObject({ code: 'BOARD_WIFI_ARGV' });
    const bad = startBoard({
      chip: 'esp32',
      flash: FlashChip.inMemory(),
      firmware: { appBuilds: [HOST_BUILD], wifi: [{ ssid: 'KilnLab', psk: 'has:colon-secret' }] },
    });
    await expect(bad).rejects.toMatchObject({ code: 'BOARD_BAD_WIFI' });
    await expect(bad).rejects.toSatisfy((e: Error) => !e.message.includes('colon-secret'));
    expect(() => formatNetworks([{ ssid: '', psk: '' }])).toThrow(/SSID is 1 to 32 bytes/);
    expect(() => formatNetworks([{ ssid: 'a', psk: 'x'.repeat(65) }])).toThrow(/at most 64 bytes/);
  });

  it('parses the KILN_WIFI form both ways: comma- or line-separated, open networks, RSSI', () => {
    const networks = parseNetworks('KilnLab:right-psk:-40,Guest:\nLab 2:pw\r\n');
    expect(networks).toEqual([
      { ssid: 'KilnLab', psk: 'right-psk', rssi: -40 },
      { ssid: 'Guest', psk: '' },
      { ssid: 'Lab 2', psk: 'pw' },
    ]);
    expect(formatNetworks(networks)).toBe('KilnLab:right-psk:-40,Guest:,Lab 2:pw');
    expect(() => parseNetworks('KilnLab')).toThrow(/expected ssid:psk\[:rssi\]/);
    expect(() => parseNetworks('KilnLab:pass:word-secret')).toThrow(/not an RSSI/);
    expect(() => parseNetworks('KilnLab:pass:word-secret')).not.toThrow(/word-secret/);
  });
});

describe('stopping the app', () => {
  it('board close() resolves only once kiln-device has exited', async () => {
    const { running } = await boardWithApp('pw', [{ ssid: 'KilnLab', psk: 'pw' }]);
    const pid = await until('kiln-device', () => hostPid(running));
    expect(exists(pid)).toBe(true);
    await running.close();
    // Exited and waited for: not even a zombie is left.
    expect(exists(pid)).toBe(false);
  }, 20_000);

  it('a hung process that does not act on SIGTERM is killed after the grace period', async () => {
    const [build] = new HostBuilds([HOST_BUILD]).list();
    if (!build) throw new Error(`no kiln-device in ${HOST_BUILD}`);
    // kiln-device itself, started with SIGTERM ignored (an ignored signal stays ignored across exec).
    const deaf = join(dir, 'kiln-device-ignoring-sigterm');
    writeFileSync(deaf, `#!/bin/sh\ntrap '' TERM\nexec '${build.executable}' "$@"\n`, { mode: 0o700 });
    let out = '';
    const app = new HostApp({
      build: { ...build, executable: deaf },
      chip: 'esp32',
      mac: '24:0a:c4:00:00:01',
      nvsFile: join(dir, 'stuck.kv'),
      output: (d) => {
        out += d.toString('latin1');
      },
    });
    const pid = app.pid as number;
    cleanup.push(() => app.stop('reset'));
    await until('its boot', () => (out.includes('kiln:') ? true : undefined));
    expect(cmdline(pid)[0]).toBe(build.executable);
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^SigIgn:\s*[0-9a-f]*[4567cdef][0-9a-f]{3}$/m); // bit 15: SIGTERM
    // And hung: it does not see its stdin close either.
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    await app.stop('shutdown', 300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(exists(pid)).toBe(false);
  }, 20_000);

  it('stop() after the process has ended on its own resolves at once', async () => {
    const [build] = new HostBuilds([HOST_BUILD]).list();
    if (!build) throw new Error(`no kiln-device in ${HOST_BUILD}`);
    let exited: number | null | undefined;
    const app = new HostApp({
      build,
      chip: 'esp32',
      mac: '24:0a:c4:00:00:02',
      nvsFile: join(dir, 'ended.kv'),
      args: ['--no-such-flag', 'x'],
      output: () => {},
      exited: (code) => {
        exited = code;
      },
    });
    await until('its exit', () => exited);
    expect(exited).toBe(2); // kiln-device's usage error
    await app.stop('shutdown');
  });
});

describe('kiln board: the app network', () => {
  const started = new Set<ChildProcess>();
  afterEach(() => {
    for (const p of started) p.kill('SIGKILL');
    started.clear();
  });

  function kilnBoard(args: string[], env: NodeJS.ProcessEnv = {}) {
    const proc = spawn(process.execPath, [KILN, 'board', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    started.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (d) => {
      stdout += d;
    });
    proc.stderr?.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    return { proc, stdout: () => stdout, stderr: () => stderr, exited };
  }

  function kilnDeviceUnder(parent: number): number | undefined {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === parent && cmdline(Number(e))[0]?.endsWith('kiln-device')) return Number(e);
      } catch {
        // It ended while we looked.
      }
    }
    return undefined;
  }

  for (const via of ['--app-wifi-file', 'KILN_WIFI'] as const) {
    it(`takes the networks from ${via}; kiln-device gets them in its environment and is gone when the board stops`, async () => {
      const psk = `pw-${randomBytes(12).toString('hex')}`;
      const flash = join(dir, `cli-${via}.bin`);
      writeFileSync(flash, flashImage('KilnLab', psk));
      const networks = `KilnLab:${psk}\nGuest:\n`;
      const wifiFile = join(dir, 'networks.txt');
      writeFileSync(wifiFile, networks, { mode: 0o600 });
      const args = ['--flash', flash, '--app-build', HOST_BUILD];
      const b =
        via === 'KILN_WIFI'
          ? kilnBoard(args, { KILN_WIFI: networks.replace('\n', ',') })
          : kilnBoard([...args, '--app-wifi-file', wifiFile]);
      const pid = await until('kiln-device under kiln board', () => kilnDeviceUnder(b.proc.pid as number), 15_000);
      expect(cmdline(b.proc.pid as number).join(' ')).not.toContain(psk);
      expect(cmdline(pid).join(' ')).not.toContain(psk);
      expect(environ(pid)).toContain(`KILN_WIFI=KilnLab:${psk},Guest:`);
      b.proc.kill('SIGTERM');
      expect(await b.exited, b.stderr()).toBe(0);
      // kiln board waited for it: it is not left running (or unreaped) after the board's exit.
      expect(exists(pid)).toBe(false);
    }, 30_000);
  }

  it('refuses --app-wifi, whose passwords every user could read, before starting anything', async () => {
    const flash = join(dir, 'refused.bin');
    const b = kilnBoard(['--flash', flash, '--app-build', HOST_BUILD, '--app-wifi', 'KilnLab:secret']);
    expect(await b.exited).toBe(2);
    expect(b.stderr()).toMatch(/--app-wifi is refused: passwords on the command line .* \[BOARD_WIFI_ARGV\]/);
    expect(b.stderr()).toMatch(/--app-wifi-file FILE, or in KILN_WIFI/);
    expect(b.stderr()).not.toContain('secret');
    expect(b.stdout()).toBe('');
    expect(existsSync(flash)).toBe(false);
  });

  it('says which network of a file it cannot use', async () => {
    const wifiFile = join(dir, 'bad-networks.txt');
    writeFileSync(wifiFile, 'KilnLab:good\nno-colon-here\n');
    const b = kilnBoard(['--flash', join(dir, 'bad.bin'), '--app-build', HOST_BUILD, '--app-wifi-file', wifiFile]);
    expect(await b.exited).toBe(2);
    expect(b.stderr()).toMatch(/network 2: expected ssid:psk\[:rssi\] \[BOARD_BAD_WIFI\]/);
  });
});
