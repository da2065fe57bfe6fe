/**
 * The device listener's accept queue: the gateway asks for the most the kernel will give, and
 * says so when net.core.somaxconn is shorter than the fleet it is configured for, since a
 * fleet reconnecting at once past it waits out TCP retransmits.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import {
  LISTEN_BACKLOG,
  listenQueueAdvice,
  openFilesAdvice,
  readOpenFilesLimit,
  readSomaxconn,
  SPARE_DESCRIPTORS,
} from '../src/util/listen.ts';
import { type Cleanups, runCleanups, tempDir, testConfig } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

/** What gateways started in a test log at debug level, and a data directory for them. */
function startLog() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  return { lines, log: createLogger({ level: 'debug', destination: sink }), dir };
}

describe('listen queue', () => {
  it('reads net.core.somaxconn, and nothing from a missing or unreadable file', () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = join(dir.dir, 'somaxconn');
    writeFileSync(file, '4096\n');
    expect(readSomaxconn(file)).toBe(4096);
    writeFileSync(file, 'many\n');
    expect(readSomaxconn(file)).toBeUndefined();
    expect(readSomaxconn(join(dir.dir, 'none'))).toBeUndefined();
  });

  it('advises raising somaxconn only when the queue is shorter than the fleet', () => {
    const advice = listenQueueAdvice(4096, 20_000);
    expect(advice).toContain('holds 4096 connections');
    expect(advice).toContain('sysctl -w net.core.somaxconn=20000');
    expect(listenQueueAdvice(4096, 1000)).toBeUndefined();
    expect(listenQueueAdvice(65_535, 100_000)).toBeUndefined(); // as long as a listener can ask for
    expect(listenQueueAdvice(128, 100_000)).toContain(`somaxconn=${LISTEN_BACKLOG}`);
    expect(listenQueueAdvice(undefined, 20_000)).toBeUndefined();
  });

  it("says so at start when this host's queue is shorter than limits.maxConnections", async () => {
    const somaxconn = readSomaxconn();
    if (somaxconn === undefined || somaxconn >= LISTEN_BACKLOG) return; // nothing to say on this host
    // On loopback, as here, the gateway says it at debug level (a warning beyond loopback).
    const { lines, log, dir } = startLog();
    const short = await startGateway(testConfig(dir.dir, { limits: { maxConnections: somaxconn + 1 } }), { log });
    cleanups.push(() => short.close());
    expect(lines.join('')).toContain(`"msg":"the listen queue holds ${somaxconn} connections`);
    await short.close();
    lines.length = 0;
    const enough = await startGateway(testConfig(dir.dir, { limits: { maxConnections: somaxconn } }), { log });
    cleanups.push(() => enough.close());
    expect(lines.join('')).not.toContain('listen queue');
  });

  it('reads the open-files limit and advises raising it when the fleet would not fit', () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const file = join(dir.dir, 'limits');
    const table = (soft: string) =>
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
      'Max processes             96365                96365                processes \n' +
      `Max open files            ${soft.padEnd(20)} 1048576              files     \n`;
    writeFileSync(file, table('20000'));
    expect(readOpenFilesLimit(file)).toBe(20_000);
    writeFileSync(file, table('unlimited'));
    expect(readOpenFilesLimit(file)).toBe(Number.POSITIVE_INFINITY);
    writeFileSync(file, 'Max processes 10 10 processes\n');
    expect(readOpenFilesLimit(file)).toBeUndefined();
    expect(readOpenFilesLimit(join(dir.dir, 'none'))).toBeUndefined();
    expect(typeof readOpenFilesLimit()).toBe('number'); // this host's own

    const advice = openFilesAdvice(20_000, 20_000);
    expect(advice).toContain('limited to 20000');
    expect(advice).toContain(`at least ${20_000 + SPARE_DESCRIPTORS}`);
    expect(openFilesAdvice(20_000 + SPARE_DESCRIPTORS, 20_000)).toBeUndefined();
    expect(openFilesAdvice(Number.POSITIVE_INFINITY, 20_000)).toBeUndefined();
    expect(openFilesAdvice(undefined, 20_000)).toBeUndefined();
  });

  it("says so at start when this host's open-files limit is below limits.maxConnections", async () => {
    const limit = readOpenFilesLimit();
    if (limit === undefined || !Number.isFinite(limit) || limit <= SPARE_DESCRIPTORS) return; // nothing to say here
    const { lines, log, dir } = startLog();
    const fits = limit - SPARE_DESCRIPTORS;
    const short = await startGateway(testConfig(dir.dir, { limits: { maxConnections: fits + 1 } }), { log });
    cleanups.push(() => short.close());
    expect(lines.join('')).toContain(`"msg":"open files are limited to ${limit} (RLIMIT_NOFILE)`);
    await short.close();
    lines.length = 0;
    const enough = await startGateway(testConfig(dir.dir, { limits: { maxConnections: fits } }), { log });
    cleanups.push(() => enough.close());
    expect(lines.join('')).not.toContain('open files are limited');
  });
});
