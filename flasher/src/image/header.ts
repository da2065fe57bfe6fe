/**
 * The 24-byte ESP image header (formats.md §4), as the flasher's safety checks read it.
 * The format code is protocol/src/formats/app-image.ts, shared with the virtual board: one parser.
 */
import * as appImage from '@kiln/protocol/formats/app-image';

export const IMAGE_MAGIC = appImage.IMAGE_MAGIC;

export interface ImageHeader {
  segments: number;
  /** 0 QIO, 1 QOUT, 2 DIO, 3 DOUT. */
  flashMode: number;
  /** High nibble of byte 3 (chip-specific code). */
  flashSizeCode: number;
  /** Low nibble of byte 3. */
  flashFreqCode: number;
  entry: number;
  chipId: number;
  hashAppended: boolean;
}

/** Parses the header at `offset`, or returns undefined when no image starts there. */
export function readImageHeader(data: Uint8Array, offset = 0): ImageHeader | undefined {
  const h = offset < data.length ? appImage.parseImageHeader(data.subarray(offset)) : undefined;
  if (!h || h.magic !== IMAGE_MAGIC || h.segmentCount === 0 || h.segmentCount > appImage.MAX_SEGMENTS) return undefined;
  return {
    segments: h.segmentCount,
    flashMode: h.spiMode,
    flashSizeCode: h.flashSizeCode,
    flashFreqCode: h.flashFreqCode,
    entry: h.entry,
    chipId: h.chipId,
    hashAppended: h.hashAppended,
  };
}
