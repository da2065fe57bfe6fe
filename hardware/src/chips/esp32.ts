/**
 * ESP32 (ESP32-D0WD-V3, revision v3.0), as on an ESP32-DevKitC V4 with a WROOM-32E.
 * Register addresses and bit positions: esptool `targets/esp32.py`.
 */
import { type BootMode, Chip, type FlashVendor, type ResetReason, type SpiRegisters } from './chip.ts';

const EFUSE_RD_REG_BASE = 0x3ff5a000;
const efuseWord = (n: number) => EFUSE_RD_REG_BASE + 4 * n;

/** The word at 0x40001000 that identifies the ESP32 ROM. */
const MAGIC_VALUE = 0x00f01d83;
/** APB_CTL_DATE: bit 31 is the third chip-revision bit. */
const APB_CTL_DATE_ADDR = 0x3ff6607c;
/**
 * RTC calibration and the 8M clock eFuse: esptool computes the ROM's idea of the crystal
 * from them before CHANGE_BAUDRATE (cali * 15625 * ck8m / 40). 1280 and 80 give exactly
 * 40 MHz, so the baud rate esptool asks for is the one it gets.
 */
const RTCCALICFG1 = 0x3ff5f06c;
const CALI_VALUE = 1280;
const CK8M_FREQ = 80;

/** CRC-8 (poly 0x31 reflected, as espefuse's calc_crc) over the MAC in eFuse order. */
function macCrc8(bytes: readonly number[]): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8c : crc >>> 1;
  }
  return crc;
}

export class Esp32 extends Chip {
  readonly name: string = 'esp32';
  readonly displayName: string = 'ESP32';
  readonly imageChipId: number = 0;
  readonly magicValue: number = MAGIC_VALUE;
  readonly securityInfo: boolean = false;
  readonly bootloaderOffset: number = 0x1000;
  readonly strapPin: string = 'GPIO0';
  readonly spi: SpiRegisters = {
    base: 0x3ff42000,
    usr: 0x1c,
    usr1: 0x20,
    usr2: 0x24,
    mosiDlen: 0x28,
    misoDlen: 0x2c,
    w0: 0x80,
    addrMsb: true,
  };
  readonly uartClkdivReg: number = 0x3ff40014;
  readonly strapRegister: number = 0x3ff44038;
  readonly description: string = 'ESP32-D0WD-V3 (revision v3.0)';
  readonly features: readonly string[] = [
    'Wi-Fi',
    'BT',
    'Dual Core + LP Core',
    'Vref calibration in eFuse',
    'Coding Scheme None',
  ];
  readonly flashVendor: FlashVendor = { manufacturer: 0xc8, memoryType: 0x40, name: 'GigaDevice GD25Q' };
  readonly macOui: readonly [number, number, number] = [0x24, 0x0a, 0xc4];
  readonly ram: readonly (readonly [number, number])[] = [
    [0x3ffae000, 0x40000000], // DRAM
    [0x40070000, 0x400c0000], // cache and IRAM
  ];

  registers(): Map<number, number> {
    const m = this.mac;
    const crc = macCrc8([m[5], m[4], m[3], m[2], m[1], m[0]]);
    return new Map([
      [0x40001000, MAGIC_VALUE],
      [efuseWord(0), 0], // no flash encryption, nothing read-protected
      [efuseWord(1), ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0],
      [efuseWord(2), (crc << 16) | (m[0] << 8) | m[1]],
      // package 1 (D0WD), revision bit 0 set
      [efuseWord(3), (1 << 9) | (1 << 15)],
      // 8M clock frequency, ADC Vref calibration
      [efuseWord(4), (0x11 << 8) | CK8M_FREQ],
      // revision bit 1 set, minor revision 0
      [efuseWord(5), 1 << 20],
      [efuseWord(6), 0], // coding scheme none, no secure boot
      [APB_CTL_DATE_ADDR, 0x96042000], // bit 31: revision bit 2 -> v3
      [RTCCALICFG1, CALI_VALUE << 7],
    ]);
  }

  /** GPIO0 is strapping bit 4: 0x13 boots from SPI flash, 0x03 waits for download. */
  strapValue(mode: BootMode): number {
    return mode === 'download' ? 0x03 : 0x13;
  }

  romBanner(mode: BootMode, reason: ResetReason): string {
    const rst = reason === 'software' ? 'rst:0x3 (SW_RESET)' : 'rst:0x1 (POWERON_RESET)';
    const boot =
      mode === 'download'
        ? 'boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n'
        : 'boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n';
    return `ets Jun  8 2016 00:22:57\r\n\r\n${rst},${boot}`;
  }
}
