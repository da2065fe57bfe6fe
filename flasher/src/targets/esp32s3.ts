/** ESP32-S3: bootloader at 0, chip id 9, up to 128 MB of flash (esptool `targets/esp32s3.py`). */
import { Esp32Target, sizes } from './esp32.ts';

export class Esp32s3Target extends Esp32Target {
  override readonly name: string = 'esp32s3';
  override readonly esptoolName: string = 'ESP32-S3';
  override readonly imageChipId: number = 9;
  override readonly bootloaderOffset: number = 0x0;
  override readonly flashSizeCodes = sizes(['1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB']);
  override readonly memoryMap: readonly (readonly [number, number, string])[] = [
    [0x00000000, 0x00010000, 'PADDING'],
    [0x3c000000, 0x3d000000, 'DROM'],
    [0x3d000000, 0x3e000000, 'EXTRAM_DATA'],
    [0x600fe000, 0x60100000, 'RTC_DRAM'],
    [0x3fc88000, 0x3fd00000, 'BYTE_ACCESSIBLE'],
    [0x3fc88000, 0x403e2000, 'MEM_INTERNAL'],
    [0x3fc88000, 0x3fd00000, 'DRAM'],
    [0x40000000, 0x4001a100, 'IROM_MASK'],
    [0x40370000, 0x403e0000, 'IRAM'],
    [0x600fe000, 0x60100000, 'RTC_IRAM'],
    [0x42000000, 0x42800000, 'IROM'],
    [0x50000000, 0x50002000, 'RTC_DATA'],
  ];
}
