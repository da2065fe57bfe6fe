/**
 * The local serial transport: line-signal logic through @serialport/binding-mock
 * (serialport's set() defaults omitted lines to asserted, so both must always be
 * sent), and real bytes through a pty pair made by socat.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as bindingMock from '@serialport/binding-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ClassicReset } from '../../src/reset.ts';
import { type SerialBinding, SerialTransport } from '../../src/transport/serial.ts';
import { collect, Lab, waitFor } from '../helpers.ts';

/** The parts of @serialport/binding-mock used here (its types do not resolve under NodeNext). */
interface MockSetOptions {
  dtr?: boolean;
  rts?: boolean;
  brk?: boolean;
}
interface MockPort {
  set(o: MockSetOptions): Promise<void>;
  update(o: { baudRate: number }): Promise<void>;
}
const MockBinding = (
  bindingMock as unknown as {
    MockBinding: {
      open(options: object): Promise<MockPort>;
      createPort(path: string, opt?: object): void;
      reset(): void;
    };
  }
).MockBinding;

/** MockBinding, recording every set() and update() the transport makes. */
function recordingBinding() {
  const calls: { set: object[]; update: object[] } = { set: [], update: [] };
  const binding = {
    ...MockBinding,
    async open(options: object) {
      const port = await MockBinding.open(options);
      const set = port.set.bind(port);
      const update = port.update.bind(port);
      port.set = async (o: MockSetOptions) => {
        calls.set.push({ dtr: o.dtr, rts: o.rts, brk: o.brk });
        return set(o);
      };
      port.update = async (o: { baudRate: number }) => {
        calls.update.push({ ...o });
        return update(o);
      };
      return port;
    },
  };
  return { binding: binding as unknown as SerialBinding, calls };
}

afterEach(() => MockBinding.reset());

describe('SerialTransport line signals (binding-mock)', () => {
  it('releases both lines at open and always sends DTR and RTS together', async () => {
    MockBinding.createPort('/dev/ttyMOCK0', { vendorId: '10c4', productId: 'ea60' });
    const { binding, calls } = recordingBinding();
    const t = new SerialTransport('/dev/ttyMOCK0', { binding, usb: { usbVendorId: 0x10c4, usbProductId: 0xea60 } });
    await t.open(115200);
    expect(calls.set).toEqual([{ dtr: false, rts: false, brk: false }]);
    await t.setLines({ rts: true });
    await t.setLines({ dtr: true });
    expect(calls.set.slice(1)).toEqual([
      { dtr: false, rts: true, brk: false },
      { dtr: true, rts: true, brk: false },
    ]);
    calls.set.length = 0;
    await new ClassicReset(t, 1).reset();
    expect(calls.set).toEqual([
      { dtr: false, rts: true, brk: false },
      { dtr: true, rts: false, brk: false },
      { dtr: false, rts: false, brk: false },
    ]);
    await t.setBaudRate(921600);
    expect(calls.update).toEqual([{ baudRate: 921600 }]);
    expect(t.baudRate).toBe(921600);
    await t.close();
    expect(t.isOpen).toBe(false);
  });

  it('maps a missing port to PORT_NOT_FOUND with exit code 3', async () => {
    const { binding } = recordingBinding();
    const t = new SerialTransport('/dev/ttyMISSING', { binding });
    await expect(t.open(115200)).rejects.toMatchObject({ code: 'PORT_NOT_FOUND', exitCode: 3 });
  });

  it('maps a port already open elsewhere to PORT_BUSY', async () => {
    MockBinding.createPort('/dev/ttyMOCK1');
    const { binding } = recordingBinding();
    const a = new SerialTransport('/dev/ttyMOCK1', { binding });
    await a.open(115200);
    await expect(new SerialTransport('/dev/ttyMOCK1', { binding }).open(115200)).rejects.toMatchObject({
      code: 'PORT_BUSY',
    });
    await a.close();
  });
});

describe('SerialTransport over a pty pair (socat)', () => {
  let lab: Lab | undefined;
  let socat: ChildProcess | undefined;
  afterEach(async () => {
    socat?.kill('SIGKILL');
    await lab?.close();
  });

  it('carries bytes both ways through the native binding', async () => {
    lab = new Lab();
    const a = lab.path('ttyA');
    const b = lab.path('ttyB');
    socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(a) && existsSync(b), 5000);
    const left = new SerialTransport(a);
    const right = new SerialTransport(b);
    await left.open(115200);
    await right.open(115200);
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    const got = collect(
      (l) => right.onData(l),
      (all) => all.length >= payload.length,
    );
    await left.write(payload);
    expect(await got).toEqual(payload);
    await left.setBaudRate(460800);
    await left.close();
    await right.close();
  });
});
