/** The monitor's pure line processing: esp-idf-monitor's filter semantics, colours, timestamps, panics. */
import { describe, expect, it } from 'vitest';
import { LineFilter } from '../../src/monitor/filter.ts';
import { COLOR, LineProcessor } from '../../src/monitor/lines.ts';
import { codeAddresses, PanicDetector } from '../../src/monitor/panic.ts';

const enc = (s: string) => new TextEncoder().encode(s);

describe('LineFilter (esp-idf-monitor --print_filter)', () => {
  it('follows LineMatcher: per-tag levels, * for the rest, bare tags verbose, plain lines need *>N', () => {
    const f = new LineFilter('wifi:W nvs *:E');
    expect(f.match('W (10) wifi: weak')).toBe(true);
    expect(f.match('I (10) wifi: connected')).toBe(false);
    expect(f.match('V (10) nvs: detail')).toBe(true);
    expect(f.match('E (10) app: bad')).toBe(true);
    expect(f.match('W (10) app: meh')).toBe(false);
    expect(f.match('ets Jun  8 2016 00:22:57')).toBe(true);
    expect(f.match('\x1b[0;33mW (10) wifi: coloured\x1b[0m')).toBe(true);
    const only = new LineFilter('wifi:I');
    expect(only.match('I (1) app: x')).toBe(false);
    expect(only.match('plain text')).toBe(false);
    expect(new LineFilter('').match('D (1) x: y')).toBe(true);
    expect(new LineFilter('*:N').match('plain')).toBe(false);
    expect(() => new LineFilter('wifi:Q')).toThrow(expect.objectContaining({ code: 'MONITOR_FILTER_INVALID' }));
    expect(() => new LineFilter(':W')).toThrow(/no tag/);
  });
});

describe('panic blocks', () => {
  it('opens at Guru Meditation or a register dump and closes at ELF file SHA256', () => {
    const p = new PanicDetector();
    expect(p.feed('I (1) app: fine')).toBeUndefined();
    expect(p.feed("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.")).toBe('start');
    expect(p.feed('Core  0 register dump:')).toBe('inside');
    expect(p.feed('ELF file SHA256: 07562ee9c224bd53')).toBe('end');
    expect(p.feed('Rebooting...')).toBeUndefined();
    expect(codeAddresses('Backtrace: 0x400d1234:0x3ffb4f40 0x400d5678:0x3ffb4f60 |<-CORRUPTED')).toEqual([
      '0x400d1234',
      '0x400d5678',
    ]);
    expect(codeAddresses('PC      : 0x400d1234  PS      : 0x00060030  A0      : 0x800d5678')).toEqual(['0x400d1234']);
  });
});

describe('LineProcessor', () => {
  it('colours by level, keeps the board’s own colours, stamps times, filters, and logs without colour', () => {
    const p = new LineProcessor({
      color: true,
      timestamps: true,
      filter: '*:I',
      now: () => new Date(2024, 0, 2, 3, 4, 5, 6),
    });
    const out = p.push(enc('E (1) app: bad\r\nD (2) app: hidden\nI (3) x: ok\n\x1b[0;33mW (4) y: own\x1b[0m\npartial'));
    expect(out.map((r) => r.screen)).toEqual([
      `2024-01-02 03:04:05.006 ${COLOR.E}E (1) app: bad${COLOR.reset}\n`,
      `2024-01-02 03:04:05.006 ${COLOR.I}I (3) x: ok${COLOR.reset}\n`,
      `2024-01-02 03:04:05.006 \x1b[0;33mW (4) y: own\x1b[0m\n`,
    ]);
    expect(out[2]?.log).toBe('2024-01-02 03:04:05.006 W (4) y: own\n');
    expect(p.flushPartial()?.screen).toBe('2024-01-02 03:04:05.006 partial');
    expect(p.push(enc(' prompt> done\n')).map((r) => r.screen)).toEqual([' prompt> done\n']);
  });

  it('highlights a panic block and prints decoded addresses under its lines', () => {
    const p = new LineProcessor({ decode: (a) => new Map(a.map((x) => [x, `fn_${x} at main.c:1`])) });
    const out = p.push(
      enc('Guru Meditation Error: Core 0 panic\nBacktrace: 0x400d1234:0x3ffb4f40\nELF file SHA256: 0\n'),
    );
    expect(out.map((r) => r.log)).toEqual([
      '--- panic: the chip crashed; the block ends at "ELF file SHA256:" or "Rebooting..." ---\n',
      'Guru Meditation Error: Core 0 panic\n',
      'Backtrace: 0x400d1234:0x3ffb4f40\n',
      '  0x400d1234: fn_0x400d1234 at main.c:1\n',
      'ELF file SHA256: 0\n',
    ]);
  });
});
