/** The board as a whole, in-process: boot modes and their ROM output, the one serial port, baud rates, boot stages. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { VirtualBoard } from '../src/board.ts';
import type { BootStage } from '../src/boot/boot-stage.ts';
import { formatMac } from '../src/chips/index.ts';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { BenchHost, syncRequest } from './helpers.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
  vi.useRealTimers();
});
function bench(options: ConstructorParameters<typeof BenchHost>[0] = {}): BenchHost {
  const h = new BenchHost(options);
  cleanup.push(() => h.close());
  return h;
}

describe('virtual board', () => {
  it('boots from flash at power-on, prints the ROM lines, then runs the boot stage', async () => {
    vi.useFakeTimers();
    const received: Buffer[] = [];
    const stage: BootStage = {
      start: (ctx) => {
        ctx.write('app: hello\r\n');
        return { receive: (d) => received.push(d), stop: () => {} };
      },
    };
    const h = bench({ bootStage: stage });
    expect(h.board.state).toBe('strapping');
    vi.advanceTimersByTime(200);
    expect(h.board.state).toBe('app');
    expect(h.take().toString()).toBe(
      'ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\napp: hello\r\n',
    );
    h.port.write(Buffer.from('input'));
    expect(Buffer.concat(received).toString()).toBe('input');
  });

  it('enters download mode with the strap pin low at the EN edge and says so', async () => {
    for (const [chip, line] of [
      ['esp32', 'rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))'],
      ['esp32s3', 'rst:0x1 (POWERON),boot:0x0 (DOWNLOAD(USB/UART0))'],
      ['esp32c3', 'rst:0x1 (POWERON),boot:0x4 (DOWNLOAD(USB/UART0/1))'],
    ] as const) {
      const h = bench({ chip });
      h.enterDownload();
      expect(h.take().toString('latin1')).toContain(`${line}\r\nwaiting for download\r\n`);
      expect(h.board.state).toBe('download');
      expect(await h.responses(4, syncRequest())).toHaveLength(8);
    }
  });

  it('stops answering while EN is held low, and a reset forgets the stub', async () => {
    const h = bench();
    h.enterDownload();
    await h.startStub(0x400a8000);
    expect(h.board.state).toBe('stub');
    h.port.setLines({ rts: true }); // EN low
    expect(h.board.state).toBe('reset');
    expect(await h.responses(4, syncRequest())).toHaveLength(0);
    h.port.setLines({ dtr: true, rts: false });
    const replies = await h.responses(4, syncRequest());
    expect(replies).toHaveLength(8);
    expect(replies[0]?.value).toBe(0x20120707); // the ROM again, not the stub
  });

  it('has one serial port: a second host is refused until the first lets go', () => {
    const h = bench();
    expect(h.board.connect(() => {})).toBeUndefined();
    h.port.setLines({ dtr: true, rts: true });
    h.port.close();
    const again = h.board.connect(() => {});
    expect(again).toBeDefined();
    expect(again?.lines).toEqual({ dtr: false, rts: false }); // closing released DTR and RTS
    again?.close();
  });

  it('passes no bytes while host and chip disagree on the baud rate', async () => {
    const h = bench();
    h.port.setBaud(9600);
    h.enterDownload();
    expect(h.take().length).toBe(0); // the banner goes out at 115200
    h.port.setBaud(115200);
    expect(await h.responses(4, syncRequest())).toHaveLength(8);
  });

  it('derives a stable MAC from the flash file, and takes a configured one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-board-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = new VirtualBoard({ chip: 'esp32c3', flash: join(dir, 'a.bin'), flashSize: 1 << 20 });
    const mac = formatMac(a.chip.mac);
    a.close();
    const again = new VirtualBoard({ chip: 'esp32c3', flash: join(dir, 'a.bin') });
    expect(formatMac(again.chip.mac)).toBe(mac);
    expect(mac.startsWith('34:85:18:')).toBe(true);
    again.close();
    const b = new VirtualBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 20), mac: '02:00:00:00:00:01' });
    expect(formatMac(b.chip.mac)).toBe('02:00:00:00:00:01');
    b.close();
  });
});
