/**
 * The serial loader as esptool and esptool-js meet it, byte for byte: ROM answers with
 * 4 status bytes, the stub with 2; error codes; the unsupported-command answer; flash
 * writes (plain and deflated), MD5 in both forms, RAM upload and the stub greeting,
 * READ_FLASH's ack window, and the flash id read through the SPI registers.
 */
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describeLoaderResult, ROM_LOADER_SYNC_VALUE } from '@kiln/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { slipEncode } from '../src/slip.ts';
import { BenchHost, dataRequest, frames, OP, request, syncRequest, testImage, u32 } from './helpers.ts';

let host: BenchHost;
afterEach(() => host?.close());

function open(chip = 'esp32'): BenchHost {
  host = new BenchHost({ chip });
  host.enterDownload();
  host.take();
  return host;
}

/** esptool's run_spiflash_command(0x9F, read_bits=24) on a chip's SPI registers. */
async function readFlashId(
  h: BenchHost,
  spi: { base: number; usr: number; usr2: number; misoDlen: number; w0: number },
  stub: boolean,
) {
  const s = stub ? 2 : 4;
  const w = (addr: number, value: number) => h.responses(s, request(OP.WRITE_REG, u32(addr, value, 0xffffffff, 0)));
  await w(spi.base + spi.misoDlen, 23);
  await w(spi.base + spi.usr, (1 << 31) | (1 << 28));
  await w(spi.base + spi.usr2, (7 << 28) | 0x9f);
  await w(spi.base + spi.w0, 0);
  await w(spi.base, 1 << 18);
  const [done] = await h.responses(s, request(OP.READ_REG, u32(spi.base)));
  const [id] = await h.responses(s, request(OP.READ_REG, u32(spi.base + spi.w0)));
  return { busy: (done?.value ?? 1) & (1 << 18), id: id?.value };
}

describe('ROM loader', () => {
  it('answers SYNC 8 times with 0x20120707 and 4 status bytes', async () => {
    const h = open();
    const replies = await h.responses(4, syncRequest());
    expect(replies).toHaveLength(8);
    for (const r of replies) {
      expect(r.raw.toString('hex')).toBe('010804000707122000000000');
      expect(r.value).toBe(ROM_LOADER_SYNC_VALUE);
    }
  });

  it('identifies an ESP32 by its magic value and reads its MAC from eFuse words 1-2', async () => {
    const h = open('esp32');
    expect((await h.command(OP.READ_REG, u32(0x40001000))).value).toBe(0x00f01d83);
    const w1 = (await h.command(OP.READ_REG, u32(0x3ff5a004))).value;
    const w2 = (await h.command(OP.READ_REG, u32(0x3ff5a008))).value;
    const mac = Buffer.alloc(8);
    mac.writeUInt32BE(w2, 0);
    mac.writeUInt32BE(w1, 4);
    expect([...mac.subarray(2)]).toEqual([...h.board.chip.mac]);
  });

  it('gives the ESP32 ROM no GET_SECURITY_INFO: the answer esptool reads as "unsupported"', async () => {
    const h = open('esp32');
    const r = await h.command(OP.GET_SECURITY_INFO);
    expect(r.op).not.toBe(OP.GET_SECURITY_INFO); // esptool: op differs, data[0] != 0, data[1] == 0x05
    expect(r.data.length).toBe(0);
    expect(r.status).toEqual([1, 0x05]);
  });

  it.each([
    ['esp32s3', 9, 0x60007044],
    ['esp32c3', 5, 0x60008844],
  ])('identifies an %s by GET_SECURITY_INFO chip id %i and keeps its MAC at %s', async (chip, id, macReg) => {
    const h = open(chip);
    const r = await h.command(OP.GET_SECURITY_INFO);
    expect(r.op).toBe(OP.GET_SECURITY_INFO);
    expect(r.data).toHaveLength(20);
    expect(r.data.readUInt32LE(12)).toBe(id);
    expect(r.status).toEqual([0, 0]);
    const mac0 = (await h.command(OP.READ_REG, u32(macReg))).value;
    const mac1 = (await h.command(OP.READ_REG, u32(macReg + 4))).value;
    const mac = Buffer.alloc(8);
    mac.writeUInt32BE(mac1, 0);
    mac.writeUInt32BE(mac0, 4);
    expect([...mac.subarray(2)]).toEqual([...h.board.chip.mac]);
  });

  it('reads the UART clock divider for the rate in use (esptool derives the crystal from it)', async () => {
    const h = open('esp32');
    const div = (await h.command(OP.READ_REG, u32(0x3ff40014))).value & 0xfffff;
    expect(Math.round((115200 * div) / 1e6)).toBe(40);
  });

  it('runs a SPI flash command through the USR registers: JEDEC id with the capacity byte', async () => {
    for (const chip of ['esp32', 'esp32s3', 'esp32c3']) {
      const h = open(chip);
      const { busy, id } = await readFlashId(h, h.board.chip.spi, false);
      expect(busy).toBe(0);
      const { manufacturer, memoryType } = h.board.chip.flashVendor;
      expect(id).toBe(manufacturer | (memoryType << 8) | (20 << 16)); // 1 MiB test flash: 2^20
      h.close();
    }
  });

  it('writes flash with FLASH_BEGIN/DATA and answers SPI_FLASH_MD5 with 32 ASCII hex digits', async () => {
    const h = open();
    const image = testImage(0x1800);
    const begin = await h.command(OP.FLASH_BEGIN, u32(image.length, 6, 0x400, 0x8000));
    expect(begin.status).toEqual([0, 0]);
    for (let seq = 0; seq < 6; seq++) {
      const r = await h.responses(4, dataRequest(OP.FLASH_DATA, seq, image.subarray(seq * 0x400, (seq + 1) * 0x400)));
      expect(r[0]?.status).toEqual([0, 0]);
    }
    const md5 = await h.command(OP.SPI_FLASH_MD5, u32(0x8000, image.length, 0, 0));
    expect(md5.data.toString('ascii')).toBe(createHash('md5').update(image).digest('hex'));
    expect(h.board.flash.read(0x8000, image.length).equals(image)).toBe(true);
  });

  it('rejects a FLASH_DATA block with a bad checksum (0x07) and takes the retry', async () => {
    const h = open();
    const block = testImage(0x400);
    await h.command(OP.FLASH_BEGIN, u32(0x400, 1, 0x400, 0x4000));
    const [bad] = await h.responses(4, dataRequest(OP.FLASH_DATA, 0, block, true));
    expect(bad?.status).toEqual([1, 0x07]);
    expect(describeLoaderResult(1, 0x07)).toBe('result was 0107: Checksum error');
    const [good] = await h.responses(4, dataRequest(OP.FLASH_DATA, 0, block));
    expect(good?.status).toEqual([0, 0]);
    expect(h.board.flash.read(0x4000, 0x400).equals(block)).toBe(true);
  });

  it('inflates FLASH_DEFL_DATA blocks (ROM: size rounded up to blocks, erased up front)', async () => {
    const h = open();
    h.board.flash.program(0x10000, Buffer.alloc(0x2000, 0x00)); // old data under the region
    const image = testImage(5000);
    const packed = deflateSync(image, { level: 9 });
    const blocks = Math.ceil(packed.length / 0x400);
    await h.command(OP.FLASH_DEFL_BEGIN, u32(Math.ceil(5000 / 0x400) * 0x400, blocks, 0x400, 0x10000));
    for (let seq = 0; seq < blocks; seq++) {
      const [r] = await h.responses(
        4,
        dataRequest(OP.FLASH_DEFL_DATA, seq, packed.subarray(seq * 0x400, (seq + 1) * 0x400)),
      );
      expect(r?.status).toEqual([0, 0]);
    }
    expect(h.board.flash.read(0x10000, 5000).equals(image)).toBe(true);
    expect(h.board.flash.read(0x10000 + 5000, 0x2000 - 5000).every((b) => b === 0xff)).toBe(true);
  });

  it('answers a corrupt zlib stream with the deflate error (0x0B)', async () => {
    const h = open();
    await h.command(OP.FLASH_DEFL_BEGIN, u32(0x1000, 1, 0x400, 0));
    const [r] = await h.responses(4, dataRequest(OP.FLASH_DEFL_DATA, 0, Buffer.from('not zlib at all')));
    expect(r?.status).toEqual([1, 0x0b]);
  });

  it('reads 64-byte blocks with READ_FLASH_SLOW and refuses more (0x0A)', async () => {
    const h = open();
    h.board.flash.program(0x1000, Buffer.from('hello flash'));
    const r = await h.command(OP.READ_FLASH_SLOW, u32(0x1000, 11));
    expect(r.data).toHaveLength(64);
    expect(r.data.subarray(0, 11).toString()).toBe('hello flash');
    expect((await h.command(OP.READ_FLASH_SLOW, u32(0, 65))).status).toEqual([1, 0x0a]);
  });

  it('keeps stub-only commands from the ROM', async () => {
    const h = open();
    const requests: [number, Buffer][] = [
      [OP.ERASE_FLASH, Buffer.alloc(0)],
      [OP.ERASE_REGION, u32(0, 0x1000)],
      [OP.READ_FLASH, u32(0, 0x1000, 0x1000, 1)],
    ];
    for (const [op, data] of requests) {
      const r = await h.command(op, data);
      expect(r.status).toEqual([1, 0x05]);
      expect(r.op).toBe(0);
    }
  });

  it('changes baud rate only after answering, at the old rate', async () => {
    const rfcLike = new BenchHost();
    host = rfcLike;
    rfcLike.port.setBaud(115200);
    rfcLike.enterDownload();
    rfcLike.take();
    const [ack] = await rfcLike.responses(4, request(OP.CHANGE_BAUDRATE, u32(460800, 0)));
    expect(ack?.status).toEqual([0, 0]);
    expect(await rfcLike.responses(4, syncRequest())).toHaveLength(0); // host still at 115200: garbage
    rfcLike.port.setBaud(460800);
    expect(await rfcLike.responses(4, syncRequest())).toHaveLength(8);
  });

  it('reboots on FLASH_END(0): the ROM banner again, with a software reset reason', async () => {
    const h = open();
    await h.command(OP.FLASH_BEGIN, u32(0, 0, 0x400, 0));
    await h.send(request(OP.FLASH_END, u32(0)));
    const text = h.take().toString('latin1');
    expect(text).toContain('rst:0x3 (SW_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))');
    expect(h.board.state).toBe('download');
  });

  it('runs the app on FLASH_END(1): the loader is gone', async () => {
    const h = open();
    await h.command(OP.FLASH_BEGIN, u32(0, 0, 0x400, 0));
    await h.send(request(OP.FLASH_END, u32(1)));
    expect(h.board.state).toBe('app');
    expect(await h.responses(4, syncRequest())).toHaveLength(0);
  });
});

describe('flasher stub', () => {
  it('refuses MEM_BEGIN outside RAM (0x0F) and hangs when started outside what was loaded', async () => {
    const h = open('esp32');
    expect((await h.command(OP.MEM_BEGIN, u32(64, 1, 0x1800, 0x10000))).status).toEqual([1, 0x0f]);
    await h.send(request(OP.MEM_END, u32(0, 0x40090000)));
    h.take();
    expect(await h.responses(4, syncRequest())).toHaveLength(0);
  });

  it('greets with a bare OHAI frame, then answers SYNC with value 0 and 2 status bytes', async () => {
    const h = open('esp32');
    const out = await h.startStub(0x400a8000);
    expect(out.map((f) => f.toString('hex'))).toEqual([
      '010604000000000000000000',
      Buffer.from('OHAI').toString('hex'),
    ]);
    const sync = await h.responses(2, syncRequest());
    expect(sync).toHaveLength(8);
    expect(sync[0]?.raw.toString('hex')).toBe('01080200000000000000');
    expect(h.board.state).toBe('stub');
  });

  it('answers SPI_FLASH_MD5 with 16 raw bytes', async () => {
    const h = open('esp32c3');
    await h.startStub(0x4037c000);
    h.board.flash.program(0, Buffer.from('abc'));
    const r = await h.command(OP.SPI_FLASH_MD5, u32(0, 0x1000, 0, 0), 2);
    const expected = createHash('md5').update(h.board.flash.read(0, 0x1000)).digest();
    expect(r.data.equals(expected)).toBe(true);
    expect(r.status).toEqual([0, 0]);
  });

  it('writes deflated data erasing as it goes, and checks FLASH_DEFL_END got everything', async () => {
    const h = open('esp32s3');
    await h.startStub(0x40380000);
    const image = testImage(40_000, 7);
    const packed = deflateSync(image);
    const blocks = Math.ceil(packed.length / 0x4000);
    await h.command(OP.FLASH_DEFL_BEGIN, u32(image.length, blocks, 0x4000, 0x20000, 0), 2);
    for (let seq = 0; seq < blocks; seq++) {
      const [r] = await h.responses(
        2,
        dataRequest(OP.FLASH_DEFL_DATA, seq, packed.subarray(seq * 0x4000, (seq + 1) * 0x4000)),
      );
      expect(r?.status).toEqual([0, 0]);
    }
    expect((await h.command(OP.FLASH_DEFL_END, u32(1), 2)).status).toEqual([0, 0]);
    expect(h.board.flash.read(0x20000, image.length).equals(image)).toBe(true);
    expect(h.board.state).toBe('stub');

    await h.command(OP.FLASH_DEFL_BEGIN, u32(image.length, blocks, 0x4000, 0x40000, 0), 2);
    await h.send(dataRequest(OP.FLASH_DEFL_DATA, 0, packed.subarray(0, 0x100)));
    expect((await h.command(OP.FLASH_DEFL_END, u32(1), 2)).status).toEqual([0xc8, 0]); // not enough data
  });

  it('reports failures with stub codes: bad checksum 0xC1, unknown command 0xFF', async () => {
    const h = open('esp32');
    await h.startStub(0x400a8000);
    await h.command(OP.FLASH_BEGIN, u32(0x100, 1, 0x4000, 0, 0), 2);
    const [bad] = await h.responses(2, dataRequest(OP.FLASH_DATA, 0, Buffer.alloc(0x100, 1), true));
    expect(bad?.status).toEqual([0xc1, 0]);
    const unknown = await h.command(0x77, undefined, 2);
    expect(unknown.op).toBe(0x77);
    expect(unknown.status).toEqual([0xff, 0]);
    expect(describeLoaderResult(0xff, 0)).toBe('result was FF00: Command not implemented');
  });

  it('erases regions on sector boundaries only, and the whole chip', async () => {
    const h = open('esp32');
    await h.startStub(0x400a8000);
    h.board.flash.program(0, Buffer.alloc(0x3000, 0));
    expect((await h.command(OP.ERASE_REGION, u32(0x1000, 0x1000), 2)).status).toEqual([0, 0]);
    expect([...h.board.flash.read(0x0fff, 3)]).toEqual([0, 0xff, 0xff]);
    expect([...h.board.flash.read(0x1fff, 2)]).toEqual([0xff, 0]);
    expect((await h.command(OP.ERASE_REGION, u32(0x1001, 0x1000), 2)).status).toEqual([0xc0, 0]);
    expect((await h.command(OP.ERASE_FLASH, undefined, 2)).status).toEqual([0, 0]);
    expect(h.board.flash.read(0, 0x3000).every((b) => b === 0xff)).toBe(true);
  });

  it('streams READ_FLASH within the ack window and ends with the MD5 frame', async () => {
    const h = open('esp32');
    await h.startStub(0x400a8000);
    const data = testImage(0x5000, 3);
    h.board.flash.program(0x3000, data);
    await h.send(request(OP.READ_FLASH, u32(0x3000, 0x5000, 0x1000, 2)));
    const first = frames(h.take());
    // The answer, then two packets: the window is 2 packets until acks come.
    expect(first).toHaveLength(3);
    expect(first[0]?.toString('hex')).toBe('01d20200000000000000');
    const got = [first[1], first[2]] as Buffer[];
    const ack = (n: number) => slipEncode(u32(n));
    await h.send(ack(0x1000));
    got.push(...frames(h.take()));
    expect(got).toHaveLength(3);
    await h.send(ack(0x3000));
    got.push(...frames(h.take()));
    await h.send(ack(0x5000));
    const tail = frames(h.take());
    const digest = tail.pop();
    got.push(...tail);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(digest?.equals(createHash('md5').update(data).digest())).toBe(true);
    expect((await h.responses(2, syncRequest())).length).toBe(8); // back to commands
  });

  it('keeps READ_FLASH_SLOW from the stub and GET_SECURITY_INFO from the ESP32 stub', async () => {
    const h = open('esp32');
    await h.startStub(0x400a8000);
    expect((await h.command(OP.READ_FLASH_SLOW, u32(0, 64), 2)).status).toEqual([0xff, 0]);
    expect((await h.command(OP.GET_SECURITY_INFO, undefined, 2)).status).toEqual([0xff, 0]);
  });

  it('reads the flash id through the SPI registers as the ROM does', async () => {
    const h = open('esp32s3');
    await h.startStub(0x40380000);
    const { id } = await readFlashId(h, h.board.chip.spi, true);
    expect(id).toBe(0x20 | (0x40 << 8) | (20 << 16));
  });
});
