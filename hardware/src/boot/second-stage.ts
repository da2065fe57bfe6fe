/**
 * The ESP-IDF second-stage bootloader, as its log shows it (bootloader_start.c,
 * bootloader_utility.c, esp_image_format.c, bootloader_common_loader.c; IDF v5.x):
 * read and verify the partition table at 0x8000, choose the app from otadata
 * (formats.md §6), verify the app image (magic, chip id, segments, checksum, SHA-256),
 * print its segments, load it, then the app's own start-up lines with its
 * esp_app_desc_t. Failures print IDF's errors and end in a software reset
 * (`bootloader_reset`), which the caller turns into a reboot loop.
 */

import {
  type AppDescription,
  appDescription,
  FLASH_MODES,
  flashFreqName,
  flashSizeName,
  type ImageInfo,
  parseImage,
} from '@kiln/protocol/formats/app-image';
import { encodeOtaEntry, OtaState, selectBootPartition } from '@kiln/protocol/formats/otadata';
import {
  bootPartitions,
  PARTITION_TABLE_MAX_LEN,
  PARTITION_TABLE_OFFSET,
  type Partition,
  parsePartitionTable,
  partitionUsage,
} from '@kiln/protocol/formats/partition-table';
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';

export interface LoadedApp {
  partition: Partition;
  image: ImageInfo;
  description: AppDescription | undefined;
  /** The NVS partition the app would open (the first data/nvs), for the host build. */
  nvs: Partition | undefined;
}

export type SecondStageResult = { text: string } & ({ outcome: 'app'; app: LoadedApp } | { outcome: 'reset' });

/** `I (29) boot: …` lines with a made-up but plausible millisecond clock. */
class BootLog {
  text = '';
  #ms: number;
  constructor(startMs: number) {
    this.#ms = startMs;
  }
  line(level: 'I' | 'W' | 'E', tag: string, message: string, costMs = 4): void {
    this.text += `${level} (${this.#ms}) ${tag}: ${message}\r\n`;
    this.#ms += costMs;
  }
}

export function runSecondStage(chip: Chip, flash: FlashChip, bootloader: ImageInfo): SecondStageResult {
  const log = new BootLog(chip.imageChipId === 0 ? 29 : 24);
  const table = parsePartitionTable(flash.read(PARTITION_TABLE_OFFSET, PARTITION_TABLE_MAX_LEN), flash.size);
  const apps = table.ok ? bootPartitions(table.partitions) : undefined;
  // Version and build time: the bootloader's own description when it has one
  // (esp_bootloader_desc_t, IDF ≥ 5.2), else the app's (both come from one build).
  const blDesc = bootloaderDescription(flash, chip.bootloaderOffset);
  const firstApp = apps && (apps.factory ?? apps.ota[0]);
  const appDesc = firstApp ? appDescriptionAt(flash, firstApp.offset) : undefined;
  const idf = blDesc?.idf ?? appDesc?.idfVersion ?? 'v5.x';
  const built = blDesc?.built ?? (appDesc ? `${appDesc.date} ${appDesc.time}` : '');
  log.line('I', 'boot', `ESP-IDF ${idf} 2nd stage bootloader`, 0);
  log.line('I', 'boot', `compile time ${built}`, 0);
  // Seen in v5.3+ logs, absent from v4.x ones (the version that added it is not checked).
  const [maj, min] = (/v?(\d+)\.(\d+)/.exec(idf) ?? []).slice(1).map(Number);
  const multicoreLine = maj !== undefined && min !== undefined && (maj > 5 || (maj === 5 && min >= 3));
  if (multicoreLine && chip.features.some((f) => f.startsWith('Dual Core')))
    log.line('I', 'boot', 'Multicore bootloader', 2);
  log.line('I', 'boot', `chip revision: v${/revision v(\d+\.\d+)/.exec(chip.description)?.[1] ?? '0.0'}`);
  const h = bootloader.header;
  const speedLabel = chip.name === 'esp32s3' ? 'Boot SPI Speed : ' : 'SPI Speed      : ';
  log.line('I', `boot.${chip.name}`, `${speedLabel}${flashFreqName(h.flashFreqCode)}`);
  log.line('I', `boot.${chip.name}`, `SPI Mode       : ${FLASH_MODES[h.spiMode] ?? 'DIO'}`);
  log.line('I', `boot.${chip.name}`, `SPI Flash Size : ${flashSizeName(h.flashSizeCode)}`);
  log.line('I', 'boot', 'Enabling RNG early entropy source...', 5);
  if (!table.ok || !apps) {
    log.line('E', 'flash_parts', table.ok ? '' : table.error, 0);
    log.line('E', 'boot', 'Failed to verify partition table', 0);
    log.line('E', 'boot', 'load partition table error!', 0);
    return { text: log.text, outcome: 'reset' };
  }
  log.line('I', 'boot', 'Partition Table:', 2);
  log.line('I', 'boot', '## Label            Usage          Type ST Offset   Length', 7);
  for (const p of table.partitions) {
    const row = `${String(p.index).padStart(2)} ${p.label.padEnd(16)} ${partitionUsage(p).padEnd(16)} ${hex2(p.type)} ${hex2(p.subtype)} ${hex8(p.offset)} ${hex8(p.size)}`;
    log.line('I', 'boot', row, 7);
  }
  log.line('I', 'boot', 'End of partition table');
  const otadata = apps.otadata ? flash.read(apps.otadata.offset, Math.min(apps.otadata.size, 0x2000)) : undefined;
  const choice = selectBootPartition(otadata, apps.ota.length, apps.factory !== undefined);
  for (const l of choice.log) log.line(l.level, 'boot', l.text);
  // bootloader_utility_load_boot_image: from the start slot down to factory, then up.
  const start = choice.start === 'factory' ? -1 : choice.start;
  const order: number[] = [];
  for (let i = start; i >= -1; i--) order.push(i);
  for (let i = start + 1; i < apps.ota.length; i++) order.push(i);
  const nvs = table.partitions.find((p) => p.type === 0x01 && p.subtype === 0x02);
  for (const index of order) {
    const part = index === -1 ? apps.factory : apps.ota[index];
    if (!part || part.size === 0) continue;
    const loaded = loadApp(chip, flash, part, log);
    if (loaded) {
      if (index >= 0 && choice.initial && apps.otadata) {
        // set_actual_ota_seq: the first boot without factory and with blank otadata.
        flash.eraseSector(apps.otadata.offset);
        flash.program(apps.otadata.offset, encodeOtaEntry(index + 1, OtaState.VALID));
        log.line('I', 'boot', `Set actual ota_seq=${index + 1} in otadata[0]`);
      }
      appStartLines(chip, loaded, log);
      return {
        text: log.text,
        outcome: 'app',
        app: { partition: part, image: loaded, description: loaded.appDescription, nvs },
      };
    }
    log.line(
      'E',
      'boot',
      index === -1 ? 'Factory app partition is not bootable' : `OTA app partition slot ${index} is not bootable`,
      0,
    );
  }
  log.line('E', 'boot', 'No bootable app partitions in the partition table', 0);
  return { text: log.text, outcome: 'reset' };
}

/** bootloader_load_image on one partition: header, chip id, segments, checksum, hash. */
function loadApp(chip: Chip, flash: FlashChip, part: Partition, log: BootLog): ImageInfo | undefined {
  const bytes = flash.read(part.offset, Math.min(part.size, flash.size - part.offset));
  if (bytes[0] !== 0xe9) {
    log.line(
      'E',
      'esp_image',
      `image at 0x${part.offset.toString(16)} has invalid magic byte (nothing flashed here?)`,
      0,
    );
    return undefined;
  }
  const chipId = bytes.readUInt16LE(12);
  if (chipId !== chip.imageChipId) {
    log.line('E', 'boot_comm', `mismatch chip ID, expected ${chip.imageChipId}, found ${chipId}`, 0);
    return undefined;
  }
  const parsed = parseImage(bytes);
  for (const s of parsed.image?.segments ?? []) {
    const map = isMapped(chip, s.loadAddress);
    const size = s.length.toString(16).padStart(5, '0');
    log.line(
      'I',
      'esp_image',
      `segment ${s.index}: paddr=${hex8(part.offset + s.dataOffset)} vaddr=${hex8(s.loadAddress)} size=${size}h (${String(s.length).padStart(6)}) ${map ? 'map' : 'load'}`,
      Math.max(2, Math.round(s.length / (map ? 2600 : 2200))),
    );
  }
  if (!parsed.ok) {
    log.line('E', 'esp_image', parsed.error.replace(/^image at 0x0 /, `image at 0x${part.offset.toString(16)} `), 0);
    return undefined;
  }
  log.line('I', 'boot', `Loaded app from partition at offset 0x${part.offset.toString(16)}`, 0);
  return parsed.image;
}

/** What the app prints first: cpu start, then the esp_app_desc_t (esp_system app_init / cpu_start). */
function appStartLines(chip: Chip, image: ImageInfo, log: BootLog): void {
  log.line('I', 'boot', 'Disabling RNG early entropy source...', 11);
  const dual = chip.features.some((f) => f.startsWith('Dual Core'));
  log.line('I', 'cpu_start', dual ? 'Multicore app' : 'Unicore app', 8);
  log.line('I', 'cpu_start', 'Pro cpu start user code', 0);
  log.line('I', 'cpu_start', `cpu freq: ${chip.name === 'esp32c3' ? 160000000 : 240000000} Hz`, 0);
  const d = image.appDescription;
  if (!d) return;
  // IDF moved these lines from cpu_start to app_init in v5.1 (not checked against the source).
  const [major, minor] = (/v?(\d+)\.(\d+)/.exec(d.idfVersion) ?? []).slice(1).map(Number);
  const tag =
    major !== undefined && minor !== undefined && (major > 5 || (major === 5 && minor >= 1)) ? 'app_init' : 'cpu_start';
  const shaChars = major !== undefined && major >= 5 ? 9 : 16;
  log.line('I', tag, 'Application information:', 3);
  log.line('I', tag, `Project name:     ${d.projectName}`, 5);
  log.line('I', tag, `App version:      ${d.version}`, 5);
  log.line('I', tag, `Compile time:     ${d.date} ${d.time}`, 6);
  log.line('I', tag, `ELF file SHA256:  ${d.elfSha256.slice(0, shaChars)}...`, 6);
  log.line('I', tag, `ESP-IDF:          ${d.idfVersion}`, 5);
}

/** The esp_app_desc_t of the image at `offset`, read without checking the image. */
function appDescriptionAt(flash: FlashChip, offset: number): AppDescription | undefined {
  const head = flash.read(offset, 0x120);
  if (head[0] !== 0xe9) return undefined;
  return appDescription(head, {
    index: 0,
    loadAddress: head.readUInt32LE(24),
    length: head.readUInt32LE(28),
    dataOffset: 32,
  });
}

/** esp_bootloader_desc_t (magic byte 0x50 at the first segment, IDF ≥ 5.2): version and build time. */
function bootloaderDescription(flash: FlashChip, offset: number): { idf: string; built: string } | undefined {
  const d = flash.read(offset + 0x20, 0x60);
  if (d[0] !== 0x50) return undefined;
  const str = (b: Buffer) => b.subarray(0, Math.max(0, b.indexOf(0))).toString('latin1');
  return { idf: str(d.subarray(8, 40)), built: str(d.subarray(40, 64)) };
}

/** Segments in the flash-mapped IROM/DROM ranges are mapped, the rest loaded into RAM. */
function isMapped(chip: Chip, address: number): boolean {
  if (chip.imageChipId === 0)
    return (address >= 0x3f400000 && address < 0x3f800000) || (address >= 0x400c2000 && address < 0x40c00000);
  return (
    address >= 0x3c000000 &&
    address < 0x44000000 &&
    !(address >= 0x3fc80000 && address < 0x40000000) &&
    !(address >= 0x40370000 && address < 0x403e0000)
  );
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
