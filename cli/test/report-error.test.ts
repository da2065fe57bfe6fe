import { readFileSync } from 'node:fs';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import { describe, expect, it } from 'vitest';
import { describeError } from '../src/report-error.ts';

describe('describeError', () => {
  it('prints the message, the stable code and the hint, and keeps the exit code', () => {
    const e = new KilnError('PORT_BUSY', 'port /dev/ttyUSB0 is busy', {
      hint: 'close the monitor or pass --port',
      exitCode: ExitCode.PORT,
    });
    expect(describeError(e)).toEqual({
      text: 'kiln: port /dev/ttyUSB0 is busy [PORT_BUSY]\n  close the monitor or pass --port\n',
      exitCode: 3,
    });
  });
  it('gives usage errors exit code 2', () => {
    expect(describeError(new UsageError('BAD_OFFSET', 'offset 0x1001 is not 4 KiB aligned')).exitCode).toBe(2);
  });
  it('calls anything else a bug, with the stack, and exit code 1', () => {
    const r = describeError(new TypeError('x is undefined'));
    expect(r.exitCode).toBe(1);
    expect(r.text).toContain('this is a bug in Kiln');
    expect(r.text).toContain('TypeError: x is undefined');
  });
});

describe('docs/EXIT-CODES.md', () => {
  it('lists exactly the codes of protocol/src/exit-codes.ts', () => {
    const doc = readFileSync(new URL('../../docs/EXIT-CODES.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d+) \| ([A-Z_]+) \|/gm)].map((m) => [m[2], Number(m[1])]);
    expect(Object.fromEntries(rows)).toEqual(ExitCode);
  });
});
