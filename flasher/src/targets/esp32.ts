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
  /** Header byte 3, low nibble: esptool's `FLASH_FREQUENCY` (ESP32, S3 and C3 share it). */
  readonly flashFreqCodes: Readonly<Record<string, number>> = { '80m': 0xf, '40m': 0x0, '26m': 0x1, '20m': 0x2 };
  /** esptool `MEMORY_MAP`: [start, end, name]; a segment's memory types are those containing its load address. */
  readonly memoryMap: readonly (readonly [number, number, string])[] = [
    [0x00000000, 0x00010000, 'PADDING'],
    [0x3f400000, 0x3f800000, 'DROM'],
    [0x3f800000, 0x3fc00000, 'EXTRAM_DATA'],
    [0x3ff80000, 0x3ff82000, 'RTC_DRAM'],
    [0x3ff90000, 0x40000000, 'BYTE_ACCESSIBLE'],
    [0x3ffae000, 0x40000000, 'DRAM'],
    [0x3ffe0000, 0x3ffffffc, 'DIRAM_DRAM'],
    [0x40000000, 0x40070000, 'IROM'],
    [0x40070000, 0x40078000, 'CACHE_PRO'],
    [0x40078000, 0x40080000, 'CACHE_APP'],
    [0x40080000, 0x400a0000, 'IRAM'],
    [0x400a0000, 0x400bfffc, 'DIRAM_IRAM'],
    [0x400c0000, 0x400c2000, 'RTC_IRAM'],
    [0x400d0000, 0x40400000, 'IROM'],
    [0x50000000, 0x50002000, 'RTC_DATA'],
  ];
}

export function sizes(list: readonly string[]): ReadonlyMap<number, number> {
  return new Map(list.map((s, code) => [code, Number.parseInt(s, 10) * 1024 * 1024]));
}
