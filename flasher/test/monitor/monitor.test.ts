/**
 * `kiln monitor` end to end against a virtual ESP32 holding the hello_world build:
 * the real boot log, then app lines and a panic the test's boot stage adds. Keys come
 * from stdin bytes (not a terminal): Ctrl+T R resets, Ctrl+T I stamps, Ctrl+T H helps,
 * Ctrl+] quits. The port disappears and comes back on the same address: the monitor
 * reconnects. Panic addresses are decoded by a stand-in addr2line.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BootStage, firmwareBootStage } from '@kiln/hardware';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_BUILD, KILN, killChildren, Lab, start, waitFor } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});
afterAll(killChildren);

const APP_LINES = [
  'I (300) app: hello from the app',
  'D (301) app: a debug line',
  'W (302) wifi: weak signal',
  "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
  'Core  0 register dump:',
  'PC      : 0x400d1234  PS      : 0x00060030  A0      : 0x800d5678  A1      : 0x3ffb4f40',
  'Backtrace: 0x400d1234:0x3ffb4f40 0x400d5678:0x3ffb4f60',
  'ELF file SHA256: 07562ee9c224bd53',
  'Rebooting...',
].join('\r\n');

/** The real boot (ROM, bootloader, app description), then app output of our own. */
const stage: BootStage = {
  start(ctx) {
    const inner = firmwareBootStage().start(ctx);
    const timer = setTimeout(() => ctx.write(`${APP_LINES}\r\n`), 30);
    return {
      stop: () => {
        clearTimeout(timer);
        inner.stop();
      },
    };
  },
};

function flashImage(file: string): void {
  const flash = Buffer.alloc(4 << 20, 0xff);
  readFileSync(join(FIXTURE_BUILD, 'bootloader/bootloader.bin')).copy(flash, 0x1000);
  readFileSync(join(FIXTURE_BUILD, 'partition_table/partition-table.bin')).copy(flash, 0x8000);
  readFileSync(join(FIXTURE_BUILD, 'hello_world.bin')).copy(flash, 0x10000);
  writeFileSync(file, flash);
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe('kiln monitor', () => {
  it('shows the boot log filtered, decodes the panic, obeys the menu keys from stdin, reconnects, and quits', async () => {
    lab = new Lab();
    const flash = lab.path('flash.bin');
    flashImage(flash);
    const addr2line = lab.path('addr2line');
    writeFileSync(
      addr2line,
      '#!/bin/sh\nfor a in "$@"; do case "$a" in 0x*) echo "$a: handler_$a at main/app.c:7";; esac; done\n',
    );
    chmodSync(addr2line, 0o755);
    const first = await lab.board({ flash, bootStage: stage });
    const url = first.url;
    const log = lab.path('console.txt');
    const m = start(process.execPath, [
      KILN,
      'monitor',
      '--port',
      url,
      '--filter',
      'wifi:W app:I *:I',
      '--log',
      log,
      '--elf',
      lab.path('app.elf'),
      '--addr2line',
      addr2line,
    ]);
    await waitFor(() => m.stdout.includes('handler_0x400d5678'), 15_000);
    expect(m.stdout).toContain('I (29) boot: ESP-IDF v5.0.1-751-g96c4ec8df2 2nd stage bootloader');
    expect(m.stdout).toContain('I (300) app: hello from the app');
    expect(m.stdout).not.toContain('a debug line');
    expect(m.stdout).toContain('--- panic: the chip crashed');
    expect(m.stdout).toContain('  0x400d1234: handler_0x400d1234 at main/app.c:7');
    expect(m.stdout).toContain('  0x400d5678: handler_0x400d5678 at main/app.c:7');
    expect(m.stdout).not.toContain('\x1b['); // not a terminal, no --color

    m.child.stdin?.write('\x14h\x14i\x14r');
    await waitFor(() => /\d\d\.\d{3} Rebooting\.\.\./.test(m.stdout), 15_000);
    expect(m.stderr).toContain('Ctrl+T then:');
    expect(m.stderr).toContain('--- timestamps on');
    expect(m.stderr).toContain('--- resetting the board');
    expect(m.stdout).toMatch(/\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} I \(300\) app: hello from the app/);

    // The port disappears (server and board gone), then a board answers at the same address again.
    const port = Number(new URL(url.replace('rfc2217:', 'http:')).port);
    await first.close();
    await waitFor(() => m.stderr.includes('disappeared'), 5000);
    await lab.board({ flash, bootStage: stage, listen: { host: '127.0.0.1', port } });
    await waitFor(() => m.stderr.includes(`--- reconnected to ${url}`), 5000);
    const again = count(m.stdout, 'Rebooting...');
    m.child.stdin?.write('\x14r');
    await waitFor(() => count(m.stdout, 'Rebooting...') > again, 15_000);

    m.child.stdin?.write('\x1d');
    const done = await m.done;
    expect(done.code, done.stderr).toBe(0);
    const saved = readFileSync(log, 'utf8');
    expect(count(saved, 'I (300) app: hello from the app')).toBe(count(done.stdout, 'I (300) app: hello from the app'));
    expect(count(saved, 'I (300) app: hello from the app')).toBeGreaterThanOrEqual(3);
    expect(saved).toContain('handler_0x400d1234');
  }, 40_000);

  it('refuses a bad filter and an unreachable port with exit codes 2 and 3', async () => {
    lab = new Lab();
    const bad = await start(process.execPath, [KILN, 'monitor', '-p', 'rfc2217://127.0.0.1:1', '--filter', 'x:Q']).done;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown log level');
    const gone = start(process.execPath, [KILN, 'monitor', '-p', 'rfc2217://127.0.0.1:1']);
    const r = await gone.done;
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach');
  });
});
