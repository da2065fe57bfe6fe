/** ESP32-C3: bootloader at 0, chip id 5 (esptool `targets/esp32c3.py`, which extends ESP32-S3's facts). */
import { sizes } from './esp32.ts';
import { Esp32s3Target } from './esp32s3.ts';

export class Esp32c3Target extends Esp32s3Target {
  override readonly name: string = 'esp32c3';
  override readonly esptoolName: string = 'ESP32-C3';
  override readonly imageChipId: number = 5;
  override readonly flashSizeCodes = sizes(['1MB', '2MB', '4MB', '8MB', '16MB']);
  override readonly memoryMap: readonly (readonly [number, number, string])[] = [
    [0x00000000, 0x00010000, 'PADDING'],
    [0x3c000000, 0x3c800000, 'DROM'],
    [0x3fc80000, 0x3fce0000, 'DRAM'],
    [0x3fc88000, 0x3fd00000, 'BYTE_ACCESSIBLE'],
    [0x3ff00000, 0x3ff20000, 'DROM_MASK'],
    [0x40000000, 0x40060000, 'IROM_MASK'],
    [0x42000000, 0x42800000, 'IROM'],
    [0x4037c000, 0x403e0000, 'IRAM'],
    [0x50000000, 0x50002000, 'RTC_IRAM'],
    [0x50000000, 0x50002000, 'RTC_DRAM'],
    [0x600fe000, 0x60100000, 'MEM_INTERNAL2'],
  ];
}
