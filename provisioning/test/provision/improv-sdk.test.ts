/**
 * Interop (issue 7): the official improv-wifi-serial-sdk (npm) drives Kiln firmware's
 * Improv implementation on a virtual board, through Kiln's Node serial shim (the
 * flasher's rfc2217:// Transport dressed as a Web Serial port): initialize (state and
 * device info), scan, a wrong PSK ("unable to connect"), then provisioning; and
 * Kiln's own ImprovClient sees the same device as provisioned afterwards.
 */
import { createTransport } from '@kiln/flasher';
import { ImprovSerial } from 'improv-wifi-serial-sdk/dist/serial.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The flasher's Web Serial shim; @kiln/flasher's index does not export it (yet): imported by path.
import { WebSerialPort } from '../../../flasher/src/transport/web-serial.ts';
import { ImprovClient, SerialLink } from '../../src/index.ts';
import { type Rig, startRig } from './bench.ts';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.stop();
});

const quiet = { log: () => {}, error: () => {}, debug: () => {} };

describe('improv-wifi-serial-sdk against kiln-device', () => {
  it('initializes, scans, reports a wrong PSK and provisions', { timeout: 40_000 }, async () => {
    const board = await rig.board('KilnLab:right-psk:-40,Guest::-70');
    // Wait for the app to boot (our client polls the state), then hand the port to the SDK.
    const link = await SerialLink.open(board.url);
    await new ImprovClient(link).currentState(15_000);
    await link.close();

    const port = new WebSerialPort(createTransport(board.url));
    await port.open({ baudRate: 115200 });
    const improv = new ImprovSerial(port as never, quiet);
    try {
      const info = await improv.initialize(3000);
      expect(info).toMatchObject({ firmware: 'kiln_firmware', chipFamily: 'esp32' });
      expect(improv.state).toBe(2); // READY (authorized)
      const ssids = await improv.scan(5000);
      expect(ssids.map((s) => s.name)).toEqual(expect.arrayContaining(['KilnLab', 'Guest']));
      expect(ssids.find((s) => s.name === 'KilnLab')).toMatchObject({ secured: true, rssi: -40 });
      await expect(improv.provision('KilnLab', 'wrong-psk', 15_000)).rejects.toBeDefined();
      expect(improv.error).toBe(3); // UNABLE_TO_CONNECT
      await improv.provision('KilnLab', 'right-psk', 15_000);
      expect(improv.state).toBe(4); // PROVISIONED
    } finally {
      await improv.close().catch(() => {});
      await port.close().catch(() => {});
    }

    const again = await SerialLink.open(board.url);
    try {
      expect((await new ImprovClient(again).currentState()).name).toBe('provisioned');
    } finally {
      await again.close();
    }
  });
});
