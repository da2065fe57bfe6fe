/** ESP32-C3: bootloader at 0, chip id 5 (esptool `targets/esp32c3.py`, which extends ESP32-S3's facts). */
import { sizes } from './esp32.ts';
import { Esp32s3Target } from './esp32s3.ts';

export class Esp32c3Target extends Esp32s3Target {
  override readonly name: string = 'esp32c3';
  override readonly esptoolName: string = 'ESP32-C3';
  override readonly imageChipId: number = 5;
  override readonly flashSizeCodes = sizes(['1MB', '2MB', '4MB', '8MB', '16MB']);
}
