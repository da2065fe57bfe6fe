/**
 * The chips a virtual board can be (esptool `targets/__init__.py` CHIP_DEFS). Nothing
 * else in hardware/ branches on a chip name: it asks the chip object.
 */
import { UsageError } from '@kiln/protocol';
import type { Chip, MacAddress } from './chip.ts';
import { Esp32 } from './esp32.ts';
import { Esp32c3 } from './esp32c3.ts';
import { Esp32s3 } from './esp32s3.ts';

type ChipClass = new (mac: MacAddress) => Chip;

export const BOARD_CHIPS: Readonly<Record<string, ChipClass>> = {
  esp32: Esp32,
  esp32s3: Esp32s3,
  esp32c3: Esp32c3,
};

export type BoardChipName = 'esp32' | 'esp32s3' | 'esp32c3';

export function isBoardChip(name: string): name is BoardChipName {
  return Object.hasOwn(BOARD_CHIPS, name);
}

/** Throws the usage error for a chip the board cannot be. */
export function assertBoardChip(name: string): asserts name is BoardChipName {
  if (!isBoardChip(name)) {
    throw new UsageError('BOARD_UNKNOWN_CHIP', `the virtual board cannot be a '${name}'`, {
      hint: `choose one of: ${Object.keys(BOARD_CHIPS).join(', ')}`,
    });
  }
}

/** A chip personality with the given MAC. */
export function createChip(name: string, mac: MacAddress): Chip {
  assertBoardChip(name);
  const ChipType = BOARD_CHIPS[name] as ChipClass;
  return new ChipType(mac);
}

/** Parses `24:0a:c4:12:34:56` (or with `-`); a base MAC must be unicast. */
export function parseMac(text: string): MacAddress {
  const parts = text.trim().split(/[:-]/);
  const bytes = parts.map((p) => (/^[0-9a-fA-F]{2}$/.test(p) ? Number.parseInt(p, 16) : Number.NaN));
  if (bytes.length !== 6 || bytes.some(Number.isNaN)) {
    throw new UsageError('BOARD_BAD_MAC', `'${text}' is not a MAC address`, {
      hint: 'write six hex bytes separated by colons, for example 24:0a:c4:12:34:56',
    });
  }
  if ((bytes[0] ?? 0) & 1) {
    throw new UsageError('BOARD_BAD_MAC', `'${text}' is a multicast address; a chip's base MAC is unicast`, {
      hint: 'make the lowest bit of the first byte 0, for example 24:0a:c4:12:34:56',
    });
  }
  return bytes as unknown as MacAddress;
}

export type { BootMode, Chip, MacAddress, ResetReason } from './chip.ts';
export { formatMac } from './chip.ts';
