/**
 * SPI_FLASH_MD5 that is right in both loaders. The ROM answers 32 ASCII hex digits,
 * the stub 16 raw bytes; esptool-js 0.7.0 hex-encodes either, so in ROM mode it
 * returns the hex of the hex (64 characters) and its own writeFlash MD5 check always
 * fails (flashing.md §0.3). Decode that case back to the 32 digits the ROM sent.
 */
import type { ESPLoader } from 'esptool-js';

export async function flashMd5(loader: ESPLoader, address: number, size: number): Promise<string> {
  const hex = await loader.flashMd5sum(address, size);
  return normalizeMd5(hex);
}

export function normalizeMd5(hex: string): string {
  if (hex.length === 64) return Buffer.from(hex, 'hex').toString('latin1').toLowerCase();
  return hex.toLowerCase();
}
