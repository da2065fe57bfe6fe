/** Chip personalities: the constants esptool identifies a chip by, and the MAC where it looks for it. */
import { describe, expect, it } from 'vitest';
import { BOARD_CHIPS, createChip, type MacAddress, parseMac } from '../src/chips/index.ts';

const MAC: MacAddress = [0x24, 0x0a, 0xc4, 0x12, 0x34, 0x56];

/** esptool's read_mac: ESP32 from eFuse words 2 and 1; later chips from MAC_EFUSE_REG and the word after. */
function esptoolMac(name: string): number[] {
  const regs = createChip(name, MAC).registers();
  const [hi, lo] = name === 'esp32' ? [regs.get(0x3ff5a008), regs.get(0x3ff5a004)] : macWords(name, regs);
  const b = Buffer.alloc(8);
  b.writeUInt32BE(hi ?? 0, 0);
  b.writeUInt32BE(lo ?? 0, 4);
  return [...b.subarray(2)];
}
function macWords(name: string, regs: Map<number, number>) {
  const reg = name === 'esp32s3' ? 0x60007044 : 0x60008844;
  return [regs.get(reg + 4), regs.get(reg)];
}

describe('chips', () => {
  it('has the three personalities, each with its own identity', () => {
    expect(Object.keys(BOARD_CHIPS)).toEqual(['esp32', 'esp32s3', 'esp32c3']);
    const [esp32, s3, c3] = ['esp32', 'esp32s3', 'esp32c3'].map((n) => createChip(n, MAC));
    expect([esp32?.imageChipId, s3?.imageChipId, c3?.imageChipId]).toEqual([0, 9, 5]);
    expect([esp32?.bootloaderOffset, s3?.bootloaderOffset, c3?.bootloaderOffset]).toEqual([0x1000, 0, 0]);
    expect([esp32?.securityInfo, s3?.securityInfo, c3?.securityInfo]).toEqual([false, true, true]);
    expect(esp32?.registers().get(0x40001000)).toBe(0x00f01d83);
    expect([esp32?.strapPin, c3?.strapPin]).toEqual(['GPIO0', 'GPIO9']);
  });

  it.each(Object.keys(BOARD_CHIPS))('%s keeps the configured MAC where esptool reads it', (name) => {
    expect(esptoolMac(name)).toEqual([...MAC]);
  });

  it.each(Object.keys(BOARD_CHIPS))('%s prints the strapping register it reports as boot:0x..', (name) => {
    const chip = createChip(name, MAC);
    for (const mode of ['download', 'flash'] as const) {
      expect(chip.romBanner(mode, 'power-on')).toContain(`,boot:0x${chip.strapValue(mode).toString(16)} (`);
    }
    expect(chip.romBanner('download', 'power-on')).toMatch(/waiting for download\r\n$/);
    expect(chip.romBanner('flash', 'power-on')).toMatch(/\(SPI_FAST_FLASH_BOOT\)\r\n$/);
  });

  it('prints the ESP32 download banner esptool and esptool-js look for', () => {
    expect(createChip('esp32', MAC).romBanner('download', 'power-on')).toContain(
      'rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download',
    );
  });

  it('parses a MAC and refuses a multicast one or a typo, saying what to write', () => {
    expect(parseMac('24:0A:c4-12:34:56')).toEqual([...MAC]);
    expect(() => parseMac('25:0a:c4:12:34:56')).toThrow(/multicast/);
    expect(() => parseMac('24:0a:c4:12:34')).toThrow(/not a MAC address/);
    expect(() => createChip('esp8266', MAC)).toThrow(/choose one of: esp32, esp32s3, esp32c3|cannot be/);
  });
});
