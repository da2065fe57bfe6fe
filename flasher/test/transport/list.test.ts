import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPorts } from '../../src/cmds/ports.ts';
import { espAdapter, listPorts, listSysfs } from '../../src/transport/list.ts';

describe('port listing', () => {
  it('marks the USB bridges ESP32 boards carry', () => {
    expect(espAdapter('303a', '1001')).toBe('Espressif USB-Serial/JTAG');
    expect(espAdapter('303A', '4001')).toBe('Espressif native USB');
    expect(espAdapter('10c4', 'ea60')).toContain('CP210x');
    expect(espAdapter('1a86', '7523')).toContain('CH340');
    expect(espAdapter('1a86', '55d4')).toContain('CH9102');
    for (const pid of ['6001', '6010', '6015']) expect(espAdapter('0403', pid)).toContain('FTDI');
    expect(espAdapter('046d', 'c52b')).toBeUndefined();
    expect(espAdapter(undefined, undefined)).toBeUndefined();
  });

  it('lists likely ESP boards first and prints a table', async () => {
    const list = await listPorts({
      source: async () => [
        { path: '/dev/ttyS0' },
        { path: '/dev/ttyUSB0', vendorId: '10c4', productId: 'ea60', serialNumber: '0001', location: '1-1.2' },
      ],
    });
    expect(list.map((p) => p.path)).toEqual(['/dev/ttyUSB0', '/dev/ttyS0']);
    const text = formatPorts(list);
    expect(text).toMatch(/\* +\/dev\/ttyUSB0 +10c4:ea60 +0001 +1-1\.2 +Silicon Labs CP210x/);
    expect(text).toContain('likely an ESP32 board');
    expect(formatPorts([])).toContain('No serial ports found');
  });

  it('reads VID/PID, serial and location from sysfs when udevadm is missing', () => {
    const root = mkdtempSync(join(tmpdir(), 'kiln-sysfs-'));
    try {
      const usb = join(root, 'devices', '1-1.2');
      const iface = join(usb, '1-1.2:1.0', 'ttyUSB0');
      mkdirSync(iface, { recursive: true });
      writeFileSync(join(usb, 'idVendor'), '1a86\n');
      writeFileSync(join(usb, 'idProduct'), '55d4\n');
      writeFileSync(join(usb, 'serial'), '5434012345\n');
      mkdirSync(join(root, 'class', 'ttyUSB0'), { recursive: true });
      symlinkSync(iface, join(root, 'class', 'ttyUSB0', 'device'));
      mkdirSync(join(root, 'class', 'tty0'), { recursive: true });
      expect(listSysfs(join(root, 'class'))).toEqual([
        { path: '/dev/ttyUSB0', vendorId: '1a86', productId: '55d4', serialNumber: '5434012345', location: '1-1.2' },
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
