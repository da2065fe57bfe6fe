/**
 * A gateway whose open-files limit is lower than the connections coming in (a machine left
 * at its distribution's `ulimit -n`): every device connection is a descriptor, and past the
 * limit the connections are turned away (libuv accepts and closes them, so no error says it).
 * What an operator relies on: the gateway does not end, its log says what is wrong and what
 * to do, and once descriptors are free again it serves as before.
 */
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { countOpenFiles, DescriptorWatch, tableFull } from '../src/tls-front/descriptors.ts';
import { startGatewayProcess } from './gateway-process.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
const held: Socket[] = [];
afterAll(() => {
  for (const s of held) s.destroy();
  dir.remove();
});

/** A TCP connection the gateway accepts and then waits on for a TLS handshake. */
function hold(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => resolve());
    // Connections the gateway could not take are closed by it; that is expected here.
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    held.push(s);
  });
}

function health(port: number, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const NOTICE =
  /open files at the limit \(256, \d+ of them connections on the device port\): new connections are closed as they arrive; raise RLIMIT_NOFILE/;
const notices = (log: string) => log.split('\n').filter((l) => NOTICE.test(l));

describe('open-files limit reached', () => {
  it('keeps the gateway up, says what to do, and serves again once descriptors are free', async () => {
    const gw = await startGatewayProcess(dir.dir, { openFiles: 256 });
    const port = Number(new URL(gw.url).port);
    expect(await health(port, gw.ca)).toBe(200);

    // Well past the limit, in steps, so that the front accepts while the test connects.
    for (let i = 0; i < 6 && notices(gw.log()).length === 0; i++) {
      await Promise.all(Array.from({ length: 100 }, () => hold(port)));
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect.poll(() => notices(gw.log()).length, { timeout: 5000 }).toBeGreaterThan(0);
    const line = notices(gw.log())[0] as string;
    expect(JSON.parse(line)).toMatchObject({ level: 40, limit: 256, connections: expect.any(Number) });
    // Said once, not once per connection turned away.
    expect(notices(gw.log())).toHaveLength(1);

    for (const s of held.splice(0)) s.destroy();
    await expect.poll(() => health(port, gw.ca).catch(() => 0), { timeout: 10_000, interval: 200 }).toBe(200);
    expect(gw.proc.exitCode).toBeNull();
  });
});

describe('DescriptorWatch', () => {
  /** A watch over a table the test fills and empties; the notices it gives (connections held). */
  function watch(limit: number, baseline: number) {
    const table = { full: false, probes: 0 };
    const said: number[] = [];
    const w = new DescriptorWatch(
      limit,
      (connections) => said.push(connections),
      () => {
        table.probes++;
        return table.full;
      },
      baseline,
    );
    return { w, table, said };
  }

  it('asks the table on accepts only near the limit, on the timer always, at most once a second', () => {
    const { w, table, said } = watch(1000, 100);
    for (let i = 0; i < 800; i++) w.opened(i); // 900 of 1000: not near yet
    expect(table.probes).toBe(0);
    for (let i = 0; i < 100; i++) w.opened(1000 + i); // near: one probe in that second
    expect(table.probes).toBe(1);
    w.check(2200);
    expect(table.probes).toBe(2);
    w.check(2500);
    expect(table.probes).toBe(2);
    // Far from the limit by the front's count, but the table is full (another listener's
    // clients): the timer's probe says so.
    for (let i = 0; i < 500; i++) w.closed();
    table.full = true;
    w.opened(4000);
    expect(table.probes).toBe(2);
    w.check(5000);
    expect(said).toEqual([401]);
  });

  it('says a full table at once, again every 30 s while it lasts, and at once when it fills again', () => {
    const { w, table, said } = watch(256, 200);
    table.full = true;
    for (let i = 0; i < 56; i++) w.opened(0);
    expect(said).toEqual([1]);
    w.check(5000);
    w.check(25_000);
    expect(said).toHaveLength(1);
    w.check(30_000);
    expect(said).toEqual([1, 56]);
    table.full = false; // devices left
    w.check(35_000);
    table.full = true;
    w.check(40_000);
    expect(said).toEqual([1, 56, 56]);
  });

  it('counts and probes this process', () => {
    expect(countOpenFiles()).toBeGreaterThan(3);
    expect(countOpenFiles('/nonexistent/fd')).toBeUndefined();
    expect(tableFull()).toBe(false);
  });
});
