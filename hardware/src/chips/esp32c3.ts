/**
 * ESP32-C3 (QFN32, revision v0.4), as on an ESP32-C3-DevKitM-1. Laid out like the S3
 * (esptool `targets/esp32c3.py`): eFuse controller at 0x60008800, chip id 5, GPIO9 as
 * the download strap, single RISC-V core, its own RAM map and ROM messages.
 */
import type { BootMode, FlashVendor } from './chip.ts';
import { Esp32s3 } from './esp32s3.ts';

export class Esp32c3 extends Esp32s3 {
  override readonly name: string = 'esp32c3';
  override readonly displayName: string = 'ESP32-C3';
  override readonly imageChipId: number = 5;
  /** ECO3 value, kept by esptool-js as a fallback. */
  override readonly magicValue: number = 0x1b31506f;
  override readonly strapPin: string = 'GPIO9';
  override readonly description: string = 'ESP32-C3 (QFN32) (revision v0.4)';
  override readonly features: readonly string[] = ['Wi-Fi', 'BT 5 (LE)', 'Single Core', '160MHz'];
  override readonly flashVendor: FlashVendor = { manufacturer: 0x20, memoryType: 0x40, name: 'XMC XM25QH' };
  override readonly macOui: readonly [number, number, number] = [0x34, 0x85, 0x18];
  override readonly ram: readonly (readonly [number, number])[] = [
    [0x3fc80000, 0x3fce0000], // DRAM
    [0x4037c000, 0x403e0000], // IRAM
    [0x50000000, 0x50002000], // RTC fast memory
  ];

  protected override readonly efuseBase: number = 0x60008800;
  protected override readonly revision = { major: 0, minor: 4 };
  protected override readonly romHeader: string = 'ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n';

  /** GPIO9 is strapping bit 3, GPIO8 (bit 2) stays high on the DevKit. */
  override strapValue(mode: BootMode): number {
    return mode === 'download' ? 0x4 : 0xc;
  }

  protected override bootLine(mode: BootMode): string {
    return mode === 'download'
      ? 'boot:0x4 (DOWNLOAD(USB/UART0/1))\r\nwaiting for download\r\n'
      : 'boot:0xc (SPI_FAST_FLASH_BOOT)\r\n';
  }
}
