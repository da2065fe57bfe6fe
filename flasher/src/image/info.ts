/**
 * `kiln image info`: the facts `esptool image-info` reports about an app or bootloader
 * image (esptool `cmds.py _print_image_info`): header, extended header, segments with
 * their memory types, checksum and SHA-256 (each checked), and esp_app_desc_t or
 * esp_bootloader_desc_t. Parsing is protocol/src/formats/app-image.ts, shared with the virtual board.
 */
import { createHash } from 'node:crypto';
import * as appImage from '@kiln/protocol/formats/app-image';
import { UsageError } from '../errors.ts';
import { TARGETS, type Target, targetByImageChipId } from '../targets/index.ts';

export interface SegmentReport {
  index: number;
  length: number;
  loadAddress: number;
  /** Offset of the segment header in the file (esptool's "File offs"). */
  fileOffset: number;
  memoryTypes: string[];
}

export interface ImageReport {
  size: number;
  /** Kiln's chip name, or undefined for a chip id Kiln does not know. */
  chip: string | undefined;
  chipId: number;
  entry: number;
  segmentCount: number;
  flashSize: string;
  flashFreq: string;
  flashMode: string;
  wpPin: number;
  /** clk, q, d, cs0, hd, wp drive strengths (header bytes 9-11). */
  drive: { clk: number; q: number; d: number; cs0: number; hd: number; wp: number };
  minChipRev: string;
  legacyMinRev: number;
  maxChipRev: string;
  segments: SegmentReport[];
  checksum: { stored: number; computed: number; valid: boolean };
  /** undefined when no SHA-256 is appended. */
  sha256: { stored: string; computed: string; valid: boolean } | undefined;
  app: AppDescReport | undefined;
  bootloader: { version: number; idfVersion: string; dateTime: string } | undefined;
  /** The first problem the second-stage bootloader would refuse the image for, if any. */
  error: string | undefined;
}

export interface AppDescReport {
  projectName: string;
  version: string;
  compileTime: string;
  elfSha256: string;
  idfVersion: string;
  minEfuseBlockRev: string;
  maxEfuseBlockRev: string;
  /** "64 KB", as esptool prints it; undefined when the field is 0. */
  mmuPageSize: string | undefined;
  secureVersion: number;
}

const rev = (full: number) => `v${Math.floor(full / 100)}.${full % 100}`;

/** Describes an image held in memory. Throws UsageError when it is not an ESP image at all. */
export function describeImage(data: Uint8Array): ImageReport {
  const header = appImage.parseImageHeader(data);
  if (!header || header.magic !== appImage.IMAGE_MAGIC) {
    throw new UsageError('IMAGE_NOT_ESP', `not an ESP image (magic byte 0x${(data[0] ?? 0).toString(16)}, not 0xe9)`, {
      hint: 'give an app or bootloader .bin from an ESP-IDF build (a partition table is shown by kiln partitions show)',
    });
  }
  const result = appImage.parseImage(data);
  const image = result.image;
  if (!image) {
    throw new UsageError('IMAGE_INVALID', `the image cannot be read: ${result.ok ? '' : result.error}`, {
      hint: 'the file is truncated or not an image',
    });
  }
  const target: Target | undefined = targetByImageChipId(header.chipId);
  const map = (target ?? (TARGETS[0] as Target)).memoryMap;
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const segments = image.segments.map((s) => ({
    index: s.index,
    length: s.length,
    loadAddress: s.loadAddress,
    fileOffset: s.dataOffset - appImage.SEGMENT_HEADER_SIZE,
    memoryTypes: map.filter(([lo, hi]) => lo <= s.loadAddress && s.loadAddress < hi).map(([, , name]) => name),
  }));
  let sha256: ImageReport['sha256'];
  if (header.hashAppended) {
    const stored = buf.subarray(image.checksumEnd, image.checksumEnd + 32).toString('hex');
    const computed = createHash('sha256').update(buf.subarray(0, image.checksumEnd)).digest('hex');
    sha256 = { stored, computed, valid: stored === computed };
  }
  const freqs = Object.entries(target?.flashFreqCodes ?? {});
  return {
    size: data.length,
    chip: target?.name,
    chipId: header.chipId,
    entry: header.entry,
    segmentCount: header.segmentCount,
    flashSize: appImage.flashSizeName(header.flashSizeCode),
    flashFreq: freqs.find(([, code]) => code === header.flashFreqCode)?.[0] ?? `${header.flashFreqCode}?`,
    flashMode: appImage.FLASH_MODES[header.spiMode] ?? `${header.spiMode}?`,
    wpPin: header.wpPin,
    drive: {
      clk: (buf[9] ?? 0) & 0xf,
      q: (buf[9] ?? 0) >> 4,
      d: (buf[10] ?? 0) & 0xf,
      cs0: (buf[10] ?? 0) >> 4,
      hd: (buf[11] ?? 0) & 0xf,
      wp: (buf[11] ?? 0) >> 4,
    },
    minChipRev: rev(header.minChipRevFull),
    legacyMinRev: buf[14] ?? 0,
    maxChipRev: rev(header.maxChipRevFull),
    segments,
    checksum: { ...image.checksum, valid: image.checksum.stored === image.checksum.computed },
    sha256,
    ...descriptions(buf, segments),
    error: result.ok ? undefined : result.error,
  };
}

/** esptool's rule: the app desc opens the first DROM segment; else the last DRAM one holds the bootloader desc. */
function descriptions(buf: Buffer, segments: SegmentReport[]): Pick<ImageReport, 'app' | 'bootloader'> {
  const drom = segments.find((s) => s.memoryTypes.includes('DROM'));
  if (drom) {
    const first = {
      index: drom.index,
      loadAddress: drom.loadAddress,
      length: drom.length,
      dataOffset: drom.fileOffset + 8,
    };
    const d = appImage.appDescription(buf, first);
    if (!d) return { app: undefined, bootloader: undefined };
    const at = first.dataOffset;
    const minE = buf.readUInt16LE(at + 176);
    const maxE = buf.readUInt16LE(at + 178);
    const mmu = buf[at + 180] ?? 0;
    return {
      app: {
        projectName: d.projectName,
        version: d.version,
        compileTime: `${d.date} ${d.time}`,
        elfSha256: d.elfSha256,
        idfVersion: d.idfVersion,
        minEfuseBlockRev: `${Math.floor(minE / 100)}.${minE % 100}`,
        maxEfuseBlockRev: `${Math.floor(maxE / 100)}.${maxE % 100}`,
        mmuPageSize: mmu ? `${2 ** mmu / 1024} KB` : undefined,
        secureVersion: d.secureVersion,
      },
      bootloader: undefined,
    };
  }
  const dram = segments.filter((s) => s.memoryTypes.includes('DRAM') && s.length >= 80).at(-1);
  const at = dram ? dram.fileOffset + 8 : -1;
  if (!dram || buf[at] !== 0x50 || buf.length < at + 80) return { app: undefined, bootloader: undefined };
  return {
    app: undefined,
    bootloader: {
      version: buf.readUInt32LE(at + 4),
      idfVersion: cString(buf.subarray(at + 8, at + 40)),
      dateTime: cString(buf.subarray(at + 40, at + 64)),
    },
  };
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('latin1');
}

const h = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** The report as esptool image-info lays it out, so people who know one can read the other. */
export function formatImageReport(r: ImageReport): string {
  const chip = r.chip ? r.chip.toUpperCase().replace(/^ESP32(\w)/, 'ESP32-$1') : `chip id ${r.chipId}`;
  const title = (t: string) => `\n${t}\n${'='.repeat(t.length)}`;
  const lines = [
    `Image size: ${r.size} bytes`,
    `Detected image type: ${r.chip?.toUpperCase() ?? chip}`,
    title(`${chip} Image Header`),
  ];
  lines.push(`Entry point: 0x${r.entry.toString(16)}`, `Segments: ${r.segmentCount}`);
  lines.push(`Flash size: ${r.flashSize}`, `Flash freq: ${r.flashFreq}`, `Flash mode: ${r.flashMode}`);
  lines.push(title(`${chip} Extended Image Header`));
  lines.push(`WP pin: 0x${r.wpPin.toString(16)}${r.wpPin === 0xee ? ' (disabled)' : ''}`);
  const dr = r.drive;
  lines.push(
    `Flash pins drive settings: clk_drv: 0x${dr.clk}, q_drv: 0x${dr.q}, d_drv: 0x${dr.d}, cs0_drv: 0x${dr.cs0}, hd_drv: 0x${dr.hd}, wp_drv: 0x${dr.wp}`,
  );
  lines.push(`Chip ID: ${r.chipId} (${r.chip ? chip : 'Unknown ID'})`);
  lines.push(`Minimal chip revision: ${r.minChipRev}, (legacy min_rev = ${r.legacyMinRev})`);
  lines.push(`Maximal chip revision: ${r.maxChipRev}`, title('Segments Information'));
  lines.push(
    'Segment   Length   Load addr   File offs  Memory types',
    '-------  -------  ----------  ----------  ------------',
  );
  for (const s of r.segments) {
    lines.push(
      `${String(s.index).padStart(7)}  ${h(s.length, 5)}  ${h(s.loadAddress, 8)}  ${h(s.fileOffset, 8)}  ${s.memoryTypes.join(', ')}`,
    );
  }
  lines.push(title(`${chip} Image Footer`));
  const c = r.checksum;
  lines.push(`Checksum: ${h(c.stored, 2)} (${c.valid ? 'valid' : `invalid - calculated ${h(c.computed, 2)}`})`);
  if (r.sha256) lines.push(`Validation hash: ${r.sha256.computed} (${r.sha256.valid ? 'valid' : 'invalid'})`);
  if (r.app) {
    const a = r.app;
    lines.push(title('Application Information'), `Project name: ${a.projectName}`, `App version: ${a.version}`);
    lines.push(`Compile time: ${a.compileTime}`, `ELF file SHA256: ${a.elfSha256}`, `ESP-IDF: ${a.idfVersion}`);
    lines.push(
      `Minimal eFuse block revision: ${a.minEfuseBlockRev}`,
      `Maximal eFuse block revision: ${a.maxEfuseBlockRev}`,
    );
    if (a.mmuPageSize) lines.push(`MMU page size: ${a.mmuPageSize}`);
    lines.push(`Secure version: ${a.secureVersion}`);
  } else if (r.bootloader) {
    const b = r.bootloader;
    lines.push(title('Bootloader Information'), `Bootloader version: ${b.version}`, `ESP-IDF: ${b.idfVersion}`);
    lines.push(`Compile time: ${b.dateTime}`);
  }
  if (r.error) lines.push('', `The bootloader would refuse this image: ${r.error}`);
  return `${lines.join('\n')}\n`;
}
