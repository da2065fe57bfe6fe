/**
 * The ROM's half of a flash boot: after its reset line, the ROM reads the image
 * header at the chip's bootloader offset, prints the SPI settings it takes from it
 * (ESP32: `configsip`, `clk_drv`, `mode:DIO, clock div:2`; S3/C3: `SPIWP:0xee`,
 * `mode:DIO, clock div:1`), one `load:ADDR,len:N` line per segment it copies into
 * RAM, and `entry 0x…`. A header without the 0xE9 magic (blank flash) gives
 * `invalid header: 0xffffffff`, repeated, and the ROM keeps retrying.
 *
 * Wording from real boot logs (esp32.com, ESP-IDF example READMEs): the ESP32 ROM
 * prints lengths in decimal, the S3/C3 ROMs in hex.
 */

import { FLASH_MODES, type ImageInfo, parseImage, parseImageHeader } from '@kiln/protocol/formats/app-image';
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';

/** Longest second-stage bootloader the ROM will read (the partition table follows it at 0x8000). */
const MAX_BOOTLOADER = 0x7000;

export type RomBootResult =
  | { ok: true; text: string; bootloader: ImageInfo }
  | { ok: false; text: string; repeat: string | undefined };

export function romFlashBoot(chip: Chip, flash: FlashChip): RomBootResult {
  const offset = chip.bootloaderOffset;
  const head = flash.read(offset, 24);
  const header = parseImageHeader(head);
  const classic = chip.imageChipId === 0;
  const mode = FLASH_MODES[header?.spiMode ?? 2] ?? 'DIO';
  const div = ({ 0: 2, 1: 3, 2: 4, 15: 1 } as Record<number, number>)[header?.flashFreqCode ?? 0] ?? 2;
  const spiLines = classic
    ? `configsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\nmode:${mode}, clock div:${div}\r\n`
    : `SPIWP:0xee\r\nmode:${mode}, clock div:${div}\r\n`;
  if (header?.magic !== 0xe9) {
    const word = head.readUInt32LE(0).toString(16).padStart(8, '0');
    const line = `invalid header: 0x${word}\r\n`;
    return { ok: false, text: `${spiLines}${line}`, repeat: line };
  }
  const size = Math.min(MAX_BOOTLOADER, flash.size - offset);
  const parsed = parseImage(flash.read(offset, size));
  const segments = parsed.image?.segments ?? [];
  const len = (n: number) => (classic ? String(n) : `0x${n.toString(16)}`);
  let text = spiLines;
  for (const s of segments) text += `load:0x${hex8(s.loadAddress)},len:${len(s.length)}\r\n`;
  if (!parsed.ok || !parsed.image) {
    // What the ROM prints for a bootloader with a bad checksum is not known here: it
    // stops after the load lines, without an entry line.
    return { ok: false, text, repeat: undefined };
  }
  text += `entry 0x${hex8(header.entry)}\r\n`;
  return { ok: true, text, bootloader: parsed.image };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
