/**
 * Per-chip facts the flasher needs before or beside esptool-js (esptool
 * `targets/esp32.py`; formats.md §4): the names, the image chip id, where the
 * second-stage bootloader lives, and the flash-size codes of the image header.
 */
export class Esp32Target {
  /** Kiln's, esptool's and idf.py's spelling. */
  readonly name: string = 'esp32';
  /** esptool-js `CHIP_NAME`. */
  readonly esptoolName: string = 'ESP32';
  /** `esp_image_header_t.chip_id`. */
  readonly imageChipId: number = 0;
  readonly bootloaderOffset: number = 0x1000;
  /** Header byte 3, high nibble: flash size code → bytes. */
  readonly flashSizeCodes: ReadonlyMap<number, number> = sizes(['1MB', '2MB', '4MB', '8MB', '16MB']);
}

export function sizes(list: readonly string[]): ReadonlyMap<number, number> {
  return new Map(list.map((s, code) => [code, Number.parseInt(s, 10) * 1024 * 1024]));
}
