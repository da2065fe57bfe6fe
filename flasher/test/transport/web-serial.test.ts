/** The Web-Serial-shaped port esptool-js drives, over the socket transport. */
import { afterEach, describe, expect, it } from 'vitest';
import { SocketTransport } from '../../src/transport/socket.ts';
import type { SerialLines, Transport } from '../../src/transport/types.ts';
import { WebSerialPort } from '../../src/transport/web-serial.ts';
import { Lab, syncFrame } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

describe('WebSerialPort', () => {
  it('opens fresh streams, reads and writes through them, and ends the readable at close', async () => {
    lab = new Lab();
    const board = await lab.socketBoard();
    const port = new WebSerialPort(new SocketTransport(board.url));
    expect(port.readable).toBeNull();
    await port.open({ baudRate: 115200 });
    const writer = port.writable?.getWriter();
    await writer?.write(syncFrame());
    writer?.releaseLock();
    const reader = port.readable?.getReader();
    const { value } = (await reader?.read()) ?? {};
    expect(value?.[0]).toBe(0xc0);
    reader?.releaseLock();
    await port.close();
    expect(port.readable).toBeNull();
    // Reopen: a new pair of streams.
    await port.open({ baudRate: 115200 });
    expect(port.readable).not.toBeNull();
    await port.close();
  });

  it('maps setSignals fields to lines, leaving omitted ones unchanged, and reports the USB ids', async () => {
    const calls: Partial<SerialLines>[] = [];
    const fake = {
      usb: { usbVendorId: 0x303a, usbProductId: 0x1001 },
      setLines: async (l: Partial<SerialLines>) => {
        calls.push(l);
      },
      setBreak: async () => {},
      setBaudRate: async () => {},
    } as unknown as Transport;
    const port = new WebSerialPort(fake);
    await port.setSignals({ requestToSend: true });
    await port.setSignals({ dataTerminalReady: false, requestToSend: false });
    await port.setSignals({ break: true });
    expect(calls).toEqual([{ rts: true }, { dtr: false, rts: false }]);
    expect(port.getInfo()).toEqual({ usbVendorId: 0x303a, usbProductId: 0x1001 });
  });
});
