/**
 * ESP32-S3 (QFN56, revision v0.2), as on an ESP32-S3-DevKitC-1 with external flash.
 * Differs from the ESP32 in what esptool `targets/esp32s3.py` overrides: identified by
 * GET_SECURITY_INFO's chip id (9) instead of a magic value, eFuse block 1 at 0x60007044,
 * the SPI1 controller at 0x60002000, bootloader at offset 0, and the newer ROM's messages.
 */
import type { BootMode, FlashVendor, ResetReason, SpiRegisters } from './chip.ts';
import { Esp32 } from './esp32.ts';

export class Esp32s3 extends Esp32 {
  override readonly name: string = 'esp32s3';
  override readonly displayName: string = 'ESP32-S3';
  override readonly imageChipId: number = 9;
  /** Not used by esptool for this chip; esptool-js keeps it as a fallback. */
  override readonly magicValue: number = 0x00000009;
  override readonly securityInfo: boolean = true;
  override readonly bootloaderOffset: number = 0x0;
  override readonly spi: SpiRegisters = {
    base: 0x60002000,
    usr: 0x18,
    usr1: 0x1c,
    usr2: 0x20,
    mosiDlen: 0x24,
    misoDlen: 0x28,
    w0: 0x58,
    addrMsb: false,
  };
  override readonly uartClkdivReg: number = 0x60000014;
  override readonly strapRegister: number = 0x60004038;
  override readonly description: string = 'ESP32-S3 (QFN56) (revision v0.2)';
  override readonly features: readonly string[] = ['Wi-Fi', 'BT 5 (LE)', 'Dual Core + LP Core', '240MHz'];
  override readonly flashVendor: FlashVendor = { manufacturer: 0x20, memoryType: 0x40, name: 'XMC XM25QH' };
  override readonly macOui: readonly [number, number, number] = [0x7c, 0xdf, 0xa1];
  override readonly ram: readonly (readonly [number, number])[] = [
    [0x3fc88000, 0x3fd00000], // DRAM
    [0x40370000, 0x403e0000], // IRAM
    [0x600fe000, 0x60100000], // RTC fast memory
    [0x50000000, 0x50002000], // RTC slow memory
  ];

  /** eFuse controller; block 1 (MAC, package, revision) starts at +0x44. */
  protected readonly efuseBase: number = 0x60007000;
  /** Minor revision (low 3 bits in block 1 word 3, high bit in word 5) and major (word 5). */
  protected readonly revision: { major: number; minor: number } = { major: 0, minor: 2 };

  override registers(): Map<number, number> {
    const m = this.mac;
    const block1 = this.efuseBase + 0x44;
    const block2 = this.efuseBase + 0x5c;
    const { major, minor } = this.revision;
    return new Map([
      [0x40001000, this.magicValue],
      [block1, ((m[2] << 24) | (m[3] << 16) | (m[4] << 8) | m[5]) >>> 0], // MAC bytes 2-5
      [block1 + 4, (m[0] << 8) | m[1]], // MAC bytes 0-1
      // word 3: package 0 (QFN56), minor revision low bits, block version minor 1, no embedded flash
      [block1 + 12, ((minor & 0x7) << 18) | (1 << 24)],
      [block1 + 20, (((minor >> 3) & 1) << 23) | ((major & 0x3) << 24)],
      [block2 + 16, 1], // block version major 1: not the v0.0 eFuse layout
    ]);
  }

  /** GPIO0 is strapping bit 3 (esptool GPIO_STRAP_SPI_BOOT_MASK). */
  override strapValue(mode: BootMode): number {
    return mode === 'download' ? 0x0 : 0x8;
  }

  override romBanner(mode: BootMode, reason: ResetReason): string {
    const rst = reason === 'software' ? 'rst:0x3 (RTC_SW_SYS_RST)' : 'rst:0x1 (POWERON)';
    return `${this.romHeader}${rst},${this.bootLine(mode)}`;
  }

  protected readonly romHeader: string = 'ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n';

  protected bootLine(mode: BootMode): string {
    return mode === 'download'
      ? 'boot:0x0 (DOWNLOAD(USB/UART0))\r\nwaiting for download\r\n'
      : 'boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n';
  }
}
