/**
 * ESP32 image format (formats.md §4): the 24-byte header, segments, the XOR checksum
 * (seed 0xEF) in the last byte of a 16-byte-aligned block, the SHA-256 appended when
 * hash_appended = 1, and the esp_app_desc_t at the start of the first segment. Pure
 * format code: the virtual board's ROM and bootloader use it, and `kiln image info`
 * can. Verification order and error wording follow IDF's esp_image_format.c
 * (process_image_header, process_segments, process_checksum, verify_simple_hash).
 */
import { createHash } from 'node:crypto';

export const IMAGE_MAGIC = 0xe9;
export const IMAGE_HEADER_SIZE = 24;
export const SEGMENT_HEADER_SIZE = 8;
export const MAX_SEGMENTS = 16;
export const APP_DESC_MAGIC = 0xabcd5432;
const SIXTEEN_MB = 0x1000000;

export const FLASH_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT'] as const;

export interface ImageHeader {
  magic: number;
  segmentCount: number;
  /** 0 QIO, 1 QOUT, 2 DIO, 3 DOUT. */
  spiMode: number;
  /** High nibble of byte 3. */
  flashSizeCode: number;
  /** Low nibble of byte 3. */
  flashFreqCode: number;
  entry: number;
  wpPin: number;
  chipId: number;
  minChipRevFull: number;
  maxChipRevFull: number;
  hashAppended: boolean;
}

export interface Segment {
  index: number;
  loadAddress: number;
  length: number;
  /** Offset of the segment's data from the start of the image. */
  dataOffset: number;
}

export interface AppDescription {
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
  /** Hex, 64 characters. */
  elfSha256: string;
}

export interface ImageInfo {
  header: ImageHeader;
  segments: Segment[];
  /** Checksum byte stored in the image and the one computed from the segments. */
  checksum: { stored: number; computed: number };
  /** Offset just after the checksum block (where the SHA-256 goes when appended). */
  checksumEnd: number;
  /** SHA-256 stored and computed over [0, checksumEnd), when appended. */
  hash: { stored: string; computed: string } | undefined;
  /** Total length: header, segments, padding, checksum, and the hash when appended. */
  length: number;
  appDescription: AppDescription | undefined;
}

export type ImageResult = { ok: true; image: ImageInfo } | { ok: false; error: string; image?: ImageInfo };

export function parseImageHeader(bytes: Uint8Array): ImageHeader | undefined {
  if (bytes.length < IMAGE_HEADER_SIZE) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, IMAGE_HEADER_SIZE);
  return {
    magic: b[0] ?? 0,
    segmentCount: b[1] ?? 0,
    spiMode: b[2] ?? 0,
    flashSizeCode: (b[3] ?? 0) >> 4,
    flashFreqCode: (b[3] ?? 0) & 0x0f,
    entry: b.readUInt32LE(4),
    wpPin: b[8] ?? 0,
    chipId: b.readUInt16LE(12),
    minChipRevFull: b.readUInt16LE(15),
    maxChipRevFull: b.readUInt16LE(17),
    hashAppended: b[23] === 1,
  };
}

/**
 * Reads and checks an image that starts at `bytes[0]` (a partition's contents, or an
 * image file). `maxLength` is the partition size. Checks, in the bootloader's order:
 * magic, segment count and lengths, checksum, length against the partition, SHA-256.
 * The chip id is the caller's business (it knows the chip).
 */
export function parseImage(bytes: Uint8Array, at = 0, maxLength = bytes.length - at): ImageResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset + at, Math.max(0, Math.min(bytes.length - at, maxLength)));
  const header = parseImageHeader(buf);
  if (!header || header.magic !== IMAGE_MAGIC) {
    return { ok: false, error: `image at 0x${at.toString(16)} has invalid magic byte (nothing flashed here?)` };
  }
  if (header.segmentCount > MAX_SEGMENTS) {
    return {
      ok: false,
      error: `image at 0x${at.toString(16)} segment count ${header.segmentCount} exceeds max ${MAX_SEGMENTS}`,
    };
  }
  const segments: Segment[] = [];
  let next = IMAGE_HEADER_SIZE;
  let xor = 0xef;
  for (let i = 0; i < header.segmentCount; i++) {
    if (next + SEGMENT_HEADER_SIZE > buf.length)
      return { ok: false, error: `bootloader_flash_read failed at 0x${hex8(at + next)}` };
    const loadAddress = buf.readUInt32LE(next);
    const length = buf.readUInt32LE(next + 4);
    if ((length & 3) !== 0 || length >= SIXTEEN_MB)
      return { ok: false, error: `invalid segment length 0x${length.toString(16)}` };
    const dataOffset = next + SEGMENT_HEADER_SIZE;
    if (dataOffset + length > buf.length)
      return {
        ok: false,
        error: `bootloader_mmap(0x${(at + dataOffset).toString(16)}, 0x${length.toString(16)}) failed`,
      };
    for (let j = dataOffset; j < dataOffset + length; j++) xor ^= buf[j] ?? 0;
    segments.push({ index: i, loadAddress, length, dataOffset });
    next = dataOffset + length;
  }
  const checksumAt = (next + 16) & ~15; // the checksum is the last byte of the padded block
  const checksumEnd = checksumAt;
  const stored = buf[checksumAt - 1];
  const length = checksumEnd + (header.hashAppended ? 32 : 0);
  const partial: ImageInfo = {
    header,
    segments,
    checksum: { stored: stored ?? 0, computed: xor },
    checksumEnd,
    hash: undefined,
    length,
    appDescription: appDescription(buf, segments[0]),
  };
  if (stored === undefined)
    return { ok: false, error: `bootloader_flash_read failed at 0x${hex8(at + next)}`, image: partial };
  if (stored !== xor) {
    return {
      ok: false,
      error: `Checksum failed. Calculated 0x${xor.toString(16)} read 0x${stored.toString(16)}`,
      image: partial,
    };
  }
  if (length > buf.length) {
    return { ok: false, error: `Image length ${length} doesn't fit in partition length ${buf.length}`, image: partial };
  }
  if (header.hashAppended) {
    partial.hash = {
      stored: buf.subarray(checksumEnd, checksumEnd + 32).toString('hex'),
      computed: createHash('sha256').update(buf.subarray(0, checksumEnd)).digest('hex'),
    };
    if (partial.hash.stored !== partial.hash.computed) {
      return { ok: false, error: 'Image hash failed - image is corrupt', image: partial };
    }
  }
  return { ok: true, image: partial };
}

/** esp_app_desc_t at the start of segment 0, when its magic word is there. */
export function appDescription(image: Buffer, first: Segment | undefined): AppDescription | undefined {
  if (!first || first.length < 256 || image.length < first.dataOffset + 256) return undefined;
  const d = image.subarray(first.dataOffset, first.dataOffset + 256);
  if (d.readUInt32LE(0) !== APP_DESC_MAGIC) return undefined;
  return {
    secureVersion: d.readUInt32LE(4),
    version: cString(d.subarray(16, 48)),
    projectName: cString(d.subarray(48, 80)),
    time: cString(d.subarray(80, 96)),
    date: cString(d.subarray(96, 112)),
    idfVersion: cString(d.subarray(112, 144)),
    elfSha256: d.subarray(144, 176).toString('hex'),
  };
}

/** "40MHz" for the header's frequency nibble (ESP32/S3/C3 encoding). */
export function flashFreqName(code: number): string {
  return ({ 0: '40MHz', 1: '26.7MHz', 2: '20MHz', 15: '80MHz' } as Record<number, string>)[code] ?? `${code}?`;
}

/** "4MB" for the header's size nibble. */
export function flashSizeName(code: number): string {
  return code <= 7 ? `${2 ** code}MB` : `${code}?`;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('latin1');
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
