/** ESP32-S3: bootloader at 0, chip id 9, up to 128 MB of flash (esptool `targets/esp32s3.py`). */
import { Esp32Target, sizes } from './esp32.ts';

export class Esp32s3Target extends Esp32Target {
  override readonly name: string = 'esp32s3';
  override readonly esptoolName: string = 'ESP32-S3';
  override readonly imageChipId: number = 9;
  override readonly bootloaderOffset: number = 0x0;
  override readonly flashSizeCodes = sizes(['1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB']);
}
