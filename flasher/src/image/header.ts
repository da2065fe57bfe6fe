/** The 24-byte ESP image header (formats.md §4): just what the flasher's safety checks read. */
export const IMAGE_MAGIC = 0xe9;

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
  if (data.length < offset + 24 || data[offset] !== IMAGE_MAGIC) return undefined;
  const view = new DataView(data.buffer, data.byteOffset + offset, 24);
  const segments = view.getUint8(1);
  if (segments === 0 || segments > 16) return undefined;
  const sizeFreq = view.getUint8(3);
  return {
    segments,
    flashMode: view.getUint8(2),
    flashSizeCode: sizeFreq >> 4,
    flashFreqCode: sizeFreq & 0x0f,
    entry: view.getUint32(4, true),
    chipId: view.getUint16(12, true),
    hashAppended: view.getUint8(23) === 1,
  };
}
