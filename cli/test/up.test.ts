/**
 * Acceptance (issue 8): `kiln up` brings the gateway and 3 virtual devices online within
 * 60 s, and whatever way it ends — all online with --until-online, Ctrl+C once up, Ctrl+C
 * half-way — nothing it started is left: no process of its tree, no listening port, no
 * kiln-device on its data dir. A second run re-verifies the devices instead of enrolling
 * them again; bad input fails before anything starts, with the documented exit codes.
 * Everything is the real thing: the CLI process, the gateway, TLS, MQTT, SQLite, the
 * virtual boards and the firmware host build.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '@kiln/companion';
import { ExitCode } from '@kiln/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KILN = join(ROOT, 'cli/bin/kiln.js');
const work = mkdtempSync(join(tmpdir(), 'kiln-up-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A running `kiln up`, its output, and every process of its tree seen while it ran. */
interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  events: () => Record<string, unknown>[];
  /** pid → start time (clock ticks since boot), so a reused pid is not mistaken for ours. */
  tree: Map<number, string>;
  exited: Promise<number>;
}

const running = new Set<Run>();
afterEach(async () => {
  // A failed assertion must not leave a run behind (in a pipeline, kiln up is bash's child).
  for (const r of running) {
    for (const [pid, started] of r.tree) {
      try {
        if (startTime(pid) === started) process.kill(pid, 'SIGKILL');
      } catch {
        // It ended meanwhile.
      }
    }
    r.child.kill('SIGKILL');
    await r.exited;
  }
  running.clear();
});

/**
 * Start time (field 22) of a live process; undefined once it has ended. A zombie has
 * ended: it only waits for init to reap it, which happens after its parent is gone.
 */
function startTime(pid: number): string | undefined {
  try {
    // The command name (field 2) may hold spaces, so count from its closing ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // It ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, p] of parent) {
      if (p === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/**
 * Starts `kiln up ARGS`; with `head`, as `kiln up ARGS | head -n HEAD` in bash, where the
 * pipeline's stdout is head's and its stderr ends with kiln up's own exit status.
 */
function kilnUp(args: string[], { head }: { head?: number } = {}): Run {
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child =
    head === undefined
      ? spawn(process.execPath, [KILN, 'up', ...args], { cwd: ROOT, stdio })
      : spawn(
          'bash',
          [
            '-c',
            `"$0" "$1" up "\${@:2}" | head -n ${head}; echo "kiln up exit status \${PIPESTATUS[0]}" >&2`,
            process.execPath,
            KILN,
            ...args,
          ],
          { cwd: ROOT, stdio },
        );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const tree = new Map<number, string>();
  const poll = setInterval(() => {
    for (const pid of descendants(child.pid as number)) {
      const t = startTime(pid);
      if (t !== undefined && !tree.has(pid)) tree.set(pid, t);
    }
  }, 50);
  const run: Run = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    events: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    tree,
    exited: new Promise((resolve) =>
      child.on('close', (code, signal) => {
        clearInterval(poll);
        running.delete(run);
        resolve(code ?? (signal ? 128 : -1));
      }),
    ),
  };
  running.add(run);
  return run;
}

async function waitFor<T>(what: string, ms: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exitWithin(run: Run, ms: number): Promise<number> {
  return Promise.race([
    run.exited,
    new Promise<number>((_, reject) =>
      setTimeout(() => reject(new Error(`kiln up still running after ${ms} ms:\n${run.stderr()}`)), ms),
    ),
  ]);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** kiln-device processes whose command line names this data dir (their NVS file lives there). */
function kilnDevicesOn(dataDir: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('kiln-device') && cmd.includes(dataDir)) found.push(Number(e));
    } catch {
      // Gone.
    }
  }
  return found;
}

/** Every trace of a run is gone: its process tree, the ports it printed, kiln-devices on its dir, the lock. */
async function expectNothingLeft(
  run: Run,
  dataDir: string,
  ports: number[],
  { devicesRan = true }: { devicesRan?: boolean } = {},
): Promise<void> {
  const kilnDevices = [...run.tree.keys()].filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kiln-device');
    } catch {
      return true; // ended already: it was seen while running, its command line is gone with it
    }
  });
  const left = [...run.tree]
    .filter(([pid, started]) => startTime(pid) === started)
    .map(([pid]) => `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`);
  expect(left, 'processes of its tree still running').toEqual([]);
  expect(kilnDevicesOn(dataDir), 'kiln-device processes on its data dir').toEqual([]);
  // Not vacuous: the boards' firmware processes were seen in the tree while it ran.
  if (devicesRan) expect(kilnDevices.length, 'kiln-device processes seen while it ran').toBeGreaterThanOrEqual(3);
  expect(ports.length).toBeGreaterThan(0);
  for (const port of ports) expect(await portOpen(port), `port ${port} still listening`).toBe(false);
  expect(existsSync(join(dataDir, 'up.lock')), 'the data dir lock').toBe(false);
}

const portOf = (url: unknown) => Number(new URL(String(url).replace(/^rfc2217:|^mqtt:/, 'http:')).port);

function getJson(url: string, key: string, ca: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: { authorization: `Bearer ${key}` } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

function secretsOf(dataDir: string): string[] {
  const operatorKey = readFileSync(join(dataDir, 'operator-api-key'), 'utf8').trim();
  const { psk } = JSON.parse(readFileSync(join(dataDir, 'wifi.json'), 'utf8')) as { psk: string };
  return [operatorKey, psk];
}

function registrations(dataDir: string): { devices: string[]; registeredBy: string[] } {
  const store = Store.open(join(dataDir, 'gateway'));
  try {
    const devices = store.devices.list({ limit: 100 }).map((d) => d.id);
    const registeredBy = store.audit
      .list(1000)
      .filter((e) => e.action === 'device.register')
      .map((e) => store.apiKeys.get(e.actor)?.scope ?? `unknown actor ${e.actor}`);
    return { devices, registeredBy };
  } finally {
    store.close();
  }
}

describe('kiln up', () => {
  const dataDir = join(work, 'main');

  it('--until-online: the gateway and 3 virtual devices online within 60 s, exit 0, nothing left behind', {
    timeout: 90_000,
  }, async () => {
    const run = kilnUp(['--until-online', '--timeout', '60', '--data-dir', dataDir]);
    const code = await exitWithin(run, 75_000);
    const out = run.stdout();
    expect(code, run.stderr()).toBe(ExitCode.OK);
    const took = /all 3 devices online ([\d.]+) s after the start/.exec(out);
    expect(took, out).not.toBeNull();
    expect(Number(took?.[1])).toBeLessThan(60);
    // The table: three rows, each an enrolled device, online.
    const rows = out.split('\n').filter((l) => /^board-\d\s+kiln-[0-9a-f]{12}\s+esp32\s+online\b/.test(l));
    expect(new Set(rows.map((r) => r.split(/\s+/)[0]))).toEqual(new Set(['board-1', 'board-2', 'board-3']));
    const gateway = /gateway\s+(https:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const mqtt = /MQTT\s+(mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    expect(/dashboard\s+(\S+)/.exec(out)?.[1]).toBe(`${gateway}/`);
    expect(out).toContain(`dev CA     ${join(dataDir, 'gateway', 'dev-ca.pem')}`);
    const boards = [...out.matchAll(/board-\d\s+(rfc2217:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]);
    expect(boards).toHaveLength(3);
    await expectNothingLeft(run, dataDir, [gateway, mqtt, ...boards].map(portOf));

    // Enrolled by the least-privileged key, once each; the operator key file is 0600.
    const { devices, registeredBy } = registrations(dataDir);
    expect(devices).toHaveLength(3);
    expect(registeredBy).toEqual(['enroll', 'enroll', 'enroll']);
    expect(statSync(join(dataDir, 'operator-api-key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'wifi.json')).mode & 0o777).toBe(0o600);
    // Secrets appear in no output and no log.
    const logs = readdirSync(join(dataDir, 'logs')).map((f) => readFileSync(join(dataDir, 'logs', f), 'utf8'));
    for (const secret of secretsOf(dataDir)) {
      for (const text of [out, run.stderr(), ...logs]) expect(text.includes(secret)).toBe(false);
    }
  });

  it('a second run on the same data dir re-verifies the devices instead of enrolling them again', {
    timeout: 90_000,
  }, async () => {
    const before = registrations(dataDir);
    expect(before.devices).toHaveLength(3);
    const run = kilnUp(['--until-online', '--timeout', '60', '--data-dir', dataDir, '--json']);
    const code = await exitWithin(run, 75_000);
    expect(code, run.stderr()).toBe(ExitCode.OK);
    const events = run.events();
    const provisioned = events.filter((e) => e.event === 'provisioned');
    expect(provisioned.map((e) => [e.registration, e.key])).toEqual(Array(3).fill(['already-registered', 'kept']));
    expect(new Set(provisioned.map((e) => e.deviceId))).toEqual(new Set(before.devices));
    const online = events.find((e) => e.event === 'online');
    expect(online?.devices).toHaveLength(3);
    expect(online?.seconds).toBeLessThan(60);
    expect(events.at(-1)?.event).toBe('stopped');
    const after = registrations(dataDir);
    expect(after.devices).toEqual(before.devices);
    expect(after.registeredBy).toHaveLength(3);
    const gw = events.find((e) => e.event === 'gateway') as Record<string, unknown>;
    const ports = [gw.url, gw.mqttUrl, ...events.filter((e) => e.event === 'board').map((e) => e.port)].map(portOf);
    await expectNothingLeft(run, dataDir, ports);
  });

  describe('when the reader of its stdout goes away, it stops everything and exits 0, quietly', () => {
    /** kiln up's own exit status, and its stderr without the line that reports it. */
    const outcome = (run: Run) => {
      const m = /kiln up exit status (\d+)\n$/.exec(run.stderr());
      return { status: m ? Number(m[1]) : undefined, stderr: run.stderr().replace(/kiln up exit status \d+\n$/, '') };
    };

    it('kiln up --json | head -1', { timeout: 60_000 }, async () => {
      // The data dir of the runs above: the boards' flash holds the firmware, which runs at once.
      const run = kilnUp(['--json', '--data-dir', dataDir], { head: 1 });
      expect(await exitWithin(run, 45_000), run.stderr()).toBe(0);
      const { status, stderr } = outcome(run);
      expect(stderr, 'nothing on stderr: no EPIPE, no stack trace').toBe('');
      expect(status).toBe(ExitCode.OK);
      const lines = run.stdout().split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      const gw = JSON.parse(lines[0] as string) as Record<string, unknown>;
      expect(gw.event).toBe('gateway');
      await expectNothingLeft(run, dataDir, [gw.url, gw.mqttUrl].map(portOf), { devicesRan: false });
    });

    it('kiln up | head -n 8 (the table mode, piped): after the boards are listed', { timeout: 60_000 }, async () => {
      const run = kilnUp(['--data-dir', dataDir], { head: 8 });
      expect(await exitWithin(run, 45_000), run.stderr()).toBe(0);
      const { status, stderr } = outcome(run);
      expect(stderr, 'nothing on stderr: no EPIPE, no stack trace').toBe('');
      expect(status).toBe(ExitCode.OK);
      const out = run.stdout();
      expect(out.split('\n').filter(Boolean)).toHaveLength(8);
      const gateway = /gateway\s+(https:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const boards = [...out.matchAll(/board-\d\s+(rfc2217:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]);
      expect(gateway, out).toBeDefined();
      expect(boards, out).toHaveLength(3);
      await expectNothingLeft(run, dataDir, [gateway, ...boards].map(portOf), { devicesRan: false });
    });
  });

  it('runs until Ctrl+C: the devices are online at the gateway (REST); SIGINT stops everything, exit 0', {
    timeout: 90_000,
  }, async () => {
    const dir = join(work, 'sigint-online');
    const started = Date.now();
    const run = kilnUp(['--json', '--data-dir', dir, '--telemetry', '1']);
    const gw = await waitFor('the gateway event', 30_000, () => run.events().find((e) => e.event === 'gateway'));
    const key = readFileSync(String(gw.operatorKeyFile), 'utf8').trim();
    const ca = readFileSync(String(gw.caPath), 'utf8');
    // The gateway's own view, as an operator with the key from the file sees it.
    const devices = await waitFor('3 devices online over REST', 60_000, async () => {
      const r = await getJson(`${gw.url}/api/v1/devices`, key, ca);
      const list = (r.body as { devices: { id: string; online: boolean }[] }).devices;
      return list.filter((d) => d.online).length === 3 ? list : undefined;
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    // They are the devices kiln up provisioned (it reports each once the gateway has it online).
    const provisioned = await waitFor('3 provisioned events', 10_000, () => {
      const ids = run
        .events()
        .filter((e) => e.event === 'provisioned')
        .map((e) => String(e.deviceId));
      return ids.length === 3 ? ids : undefined;
    });
    expect(devices.map((d) => d.id).sort()).toEqual(provisioned.sort());
    // The live table follows telemetry: each device's seq shows up.
    await waitFor('telemetry seq in the device events', 30_000, () => {
      const seqs = new Set(
        run
          .events()
          .filter((e) => e.event === 'device' && typeof e.seq === 'number')
          .map((e) => e.id),
      );
      return seqs.size === 3 ? true : undefined;
    });

    // The table follows the gateway: a device revoked by the operator shows as revoked.
    const victim = provisioned[0] as string;
    const revoked = await getJson(`${gw.url}/api/v1/devices/${victim}/revoke`, key, ca, 'POST');
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    await waitFor('the revoked state in the device events', 10_000, () =>
      run.events().find((e) => e.event === 'device' && e.id === victim && e.state === 'revoked'),
    );

    // One run per data dir: a second one is refused while this one holds it.
    const second = kilnUp(['--until-online', '--data-dir', dir]);
    expect(await exitWithin(second, 30_000)).toBe(ExitCode.USAGE);
    expect(second.stderr()).toMatch(/another kiln up \(pid \d+\) is using .*\[UP_BUSY\]/);

    run.child.kill('SIGINT');
    expect(await exitWithin(run, 20_000), run.stderr()).toBe(ExitCode.OK);
    expect(run.events().at(-1)?.event).toBe('stopped');
    const ports = [
      gw.url,
      gw.mqttUrl,
      ...run
        .events()
        .filter((e) => e.event === 'board')
        .map((e) => e.port),
    ].map(portOf);
    await expectNothingLeft(run, dir, ports);
  });

  it('SIGINT half-way (while flashing) stops everything and exits 130', { timeout: 60_000 }, async () => {
    // A fresh data dir: the boards' flash is blank, so no firmware runs before the flash
    // (the tree may hold no kiln-device yet); the ports and the lock must go all the same.
    const dir = join(work, 'sigint-early');
    const run = kilnUp(['--json', '--data-dir', dir]);
    await waitFor('a board flashing', 30_000, () =>
      run.events().find((e) => e.event === 'device' && e.state === 'flashing'),
    );
    run.child.kill('SIGINT');
    expect(await exitWithin(run, 20_000), run.stderr()).toBe(ExitCode.INTERRUPTED);
    expect(run.stderr()).toContain('[INTERRUPTED]');
    expect(run.events().some((e) => e.event === 'online')).toBe(false);
    const gw = run.events().find((e) => e.event === 'gateway') as Record<string, unknown>;
    const ports = [
      gw.url,
      gw.mqttUrl,
      ...run
        .events()
        .filter((e) => e.event === 'board')
        .map((e) => e.port),
    ].map(portOf);
    await expectNothingLeft(run, dir, ports, { devicesRan: false });
  });

  it('--until-online past --timeout: exit 4 (NOT_ONLINE) naming the late boards, nothing left behind', {
    timeout: 60_000,
  }, async () => {
    // One second from the start: the flash alone takes longer.
    const dir = join(work, 'timeout');
    const run = kilnUp(['--until-online', '--timeout', '1', '--json', '--data-dir', dir]);
    expect(await exitWithin(run, 30_000), run.stderr()).toBe(ExitCode.DEVICE);
    expect(run.stderr()).toMatch(
      /3 of 3 devices not online within 1 s of the start: board-1 \(\w+\), board-2 .*\[NOT_ONLINE\]/,
    );
    expect(run.events().some((e) => e.event === 'online')).toBe(false);
    const gw = run.events().find((e) => e.event === 'gateway') as Record<string, unknown>;
    const ports = [
      gw.url,
      gw.mqttUrl,
      ...run
        .events()
        .filter((e) => e.event === 'board')
        .map((e) => e.port),
    ].map(portOf);
    await expectNothingLeft(run, dir, ports, { devicesRan: false });
  });

  describe('bad input fails before anything starts, exit 2', () => {
    const refused = async (args: string[], message: RegExp) => {
      const dir = join(work, `bad-${Math.random().toString(36).slice(2)}`);
      const run = kilnUp([...args, '--data-dir', dir]);
      expect(await exitWithin(run, 30_000)).toBe(ExitCode.USAGE);
      expect(run.stderr()).toMatch(message);
      expect(existsSync(dir), 'nothing was created').toBe(false);
    };

    it('an unknown bench file', async () => {
      await refused(
        ['--bench', 'hardware/benches/no-such-bench.yaml'],
        /cannot read the bench file .*no-such-bench\.yaml.*\[BENCH_UNREADABLE\]/,
      );
    });

    it('an invalid bench file, with file:line', async () => {
      const file = join(work, 'typo.yaml');
      writeFileSync(file, 'name: typo\nwifi: { ssid: Lab }\nduts:\n  - name: a\n    prot: virtual\n');
      await refused(['--bench', file], /typo\.yaml:5: duts\[0\]\.prot: unknown key.*\n[\s\S]*\[BENCH_INVALID\]/);
    });

    it('--boards 0, and --boards that is not a number', async () => {
      await refused(['--boards', '0'], /--boards 0: expected a whole number from 1 to 16 \[UP_BAD_OPTION\]/);
      await refused(['--boards', 'three'], /--boards three: expected a whole number from 1 to 16 \[UP_BAD_OPTION\]/);
    });

    it('--boards with --bench', async () => {
      await refused(
        ['--boards', '2', '--bench', 'hardware/benches/virtual.yaml'],
        /--boards and --bench exclude each other \[UP_BAD_OPTION\]/,
      );
    });

    it('a public --listen address', async () => {
      await refused(
        ['--listen', '0.0.0.0:0'],
        /--listen 0\.0\.0\.0: kiln up listens on loopback only \[UP_PUBLIC_BIND\]/,
      );
    });
  });
});
