import { crc32 as zlibCrc32 } from 'node:zlib';

/**
 * The CRC32 ESP-IDF uses everywhere (NVS, otadata, Kiln RPC): `esp_rom_crc32_le(0xFFFFFFFF, …)`,
 * which is zlib's CRC-32 started from 0xFFFFFFFF (formats.md §0). Not standard CRC-32:
 * "123456789" gives 0xD202D277. Pass the previous result as `seed` to chain.
 */
export function espCrc32(data: Uint8Array, seed = 0xffffffff): number {
  return zlibCrc32(data, seed) >>> 0;
}
