/**
 * The RFC 2217 server over real TCP: the negotiation and acknowledgements pyserial
 * waits for, DTR/RTS reaching the auto-reset circuit, 0xFF escaping both ways, one
 * client at a time, and garbage that leaves the connection usable.
 */
import { connect } from 'node:net';
import { IAC, SE } from '@kiln/protocol/serial/telnet';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { type RunningBoard, startBoard } from '../src/index.ts';
import { frames, OP, parseResponse, request, syncRequest, u32 } from './helpers.ts';
import { Rfc2217TestClient } from './rfc2217-client.ts';

let running: RunningBoard;
const clients: Rfc2217TestClient[] = [];

beforeAll(async () => {
  // A MAC made of 0xFF bytes, so that register reads carry IAC bytes.
  running = await startBoard({
    chip: 'esp32',
    flash: FlashChip.inMemory(1 << 20),
    mac: 'fe:ff:ff:ff:ff:ff',
    socket: true,
  });
});
afterAll(() => running.close());
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise((r) => setTimeout(r, 20)); // let the server see the close
});

async function client(): Promise<Rfc2217TestClient> {
  const c = await Rfc2217TestClient.open(running.url);
  clients.push(c);
  return c;
}

/** esptool's classic reset over the wire (D0 R1 D0 … D1 R0 D1 … D0); returns what the chip printed. */
async function resetIntoDownload(c: Rfc2217TestClient): Promise<string> {
  c.take();
  for (const v of [9, 11, 9, 8, 12, 8, 9]) await c.command(5, v);
  const text = () => Buffer.concat(c.data).toString('latin1');
  await c.until(() => text().includes('waiting for download'));
  return text();
}

describe('RFC 2217 server', () => {
  it('serves the URL it prints, on loopback', () => {
    expect(running.url).toMatch(/^rfc2217:\/\/127\.0\.0\.1:\d+$/);
    expect(running.socketUrl).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
  });

  it('acknowledges SET-BAUDRATE with the rate in effect, and answers a query with it', async () => {
    const c = await client();
    expect([...(await c.command(1, 0x00, 0x07, 0x08, 0x00))]).toEqual([101, 0x00, 0x07, 0x08, 0x00]); // 460800
    expect([...(await c.command(1, 0, 0, 0, 0))]).toEqual([101, 0x00, 0x07, 0x08, 0x00]);
  });

  it('acknowledges data size, parity, stop size and flow control as pyserial expects at open', async () => {
    const c = await client();
    expect([...(await c.command(2, 8))]).toEqual([102, 8]);
    expect([...(await c.command(3, 1))]).toEqual([103, 1]);
    expect([...(await c.command(4, 1))]).toEqual([104, 1]);
    expect([...(await c.command(5, 1))]).toEqual([105, 1]); // no flow control
  });

  it('acknowledges DTR, RTS and break changes and reports them back on request', async () => {
    const c = await client();
    expect([...(await c.command(5, 8))]).toEqual([105, 8]); // DTR on
    expect([...(await c.command(5, 12))]).toEqual([105, 12]); // RTS off
    expect([...(await c.command(5, 7))]).toEqual([105, 8]); // DTR?
    expect([...(await c.command(5, 10))]).toEqual([105, 12]); // RTS?
    expect([...(await c.command(5, 5))]).toEqual([105, 5]); // break on
    expect([...(await c.command(5, 4))]).toEqual([105, 5]);
    expect([...(await c.command(5, 6))]).toEqual([105, 6]);
    for (const p of [1, 2, 3]) expect([...(await c.command(12, p))]).toEqual([112, p]); // PURGE-DATA
  });

  it('resets the chip into download mode from the DTR/RTS sequence, and talks SLIP with 0xFF doubled', async () => {
    const c = await client();
    await c.command(1, 0x00, 0x01, 0xc2, 0x00); // 115200
    expect(await resetIntoDownload(c)).toContain(
      'rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n',
    );
    c.take();
    c.write(syncRequest());
    await c.until(() => frames(Buffer.concat(c.data)).length >= 8);
    expect(frames(c.take()).map((f) => parseResponse(f, 4).value)).toEqual(new Array(8).fill(0x20120707));
    c.write(request(OP.READ_REG, u32(0x3ff5a004))); // MAC bytes 2-5: ff ff ff ff
    await c.until(() => frames(Buffer.concat(c.data)).length >= 1);
    expect(parseResponse(frames(c.take())[0] as Buffer, 4).value).toBe(0xffffffff);
    c.write(request(OP.WRITE_REG, u32(0x3ff00000, 0xffffffff, 0xffffffff, 0)));
    c.write(request(OP.READ_REG, u32(0x3ff00000)));
    await c.until(() => frames(Buffer.concat(c.data)).length >= 2);
    expect(parseResponse(frames(c.take())[1] as Buffer, 4).value).toBe(0xffffffff);
  });

  it('has one client at a time: a second connection is closed, the port frees when the first leaves', async () => {
    const first = await client();
    const second = await client();
    await second.until(() => second.closed);
    first.close();
    await new Promise((r) => setTimeout(r, 50));
    const third = await client();
    expect([...(await third.command(5, 7))]).toEqual([105, 9]); // DTR released by the first client's close
  });

  it('keeps the connection usable after garbage, telnet sequences included', async () => {
    const c = await client();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (noise) => {
        c.socket.write(noise);
        c.socket.write(Buffer.from([IAC, SE, IAC, SE])); // ends whatever telnet state the noise left
        await c.command(1, 0x00, 0x01, 0xc2, 0x00);
        await resetIntoDownload(c);
        c.take();
        c.write(syncRequest());
        await c.until(() => frames(Buffer.concat(c.data)).filter((f) => f[1] === OP.SYNC).length >= 8);
        c.take();
      }),
      // Each case is a TCP round trip and a reset (~40 ms): capped, unlike the in-process properties.
      { numRuns: Math.min(Number(process.env.KILN_FUZZ_RUNS ?? 25), 1000) },
    );
  }, 120_000);
});

describe('socket:// server', () => {
  it('passes raw bytes with no telnet layer', async () => {
    // Put the chip in download mode through RFC 2217, then talk SLIP over the raw port.
    const c = await client();
    await resetIntoDownload(c);
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    const { hostname, port } = new URL(running.socketUrl as string);
    const out: Buffer[] = [];
    const s = connect(Number(port), hostname);
    await new Promise((r) => s.once('connect', r));
    s.on('data', (d: Buffer) => out.push(d));
    s.write(request(OP.READ_REG, u32(0x3ff5a004)));
    const end = Date.now() + 2000;
    while (frames(Buffer.concat(out)).length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    s.destroy();
    expect(Buffer.concat(out).includes(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBe(true);
    expect(Buffer.concat(out).includes(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(false);
  });
});
