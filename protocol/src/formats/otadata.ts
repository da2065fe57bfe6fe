/**
 * The otadata partition (formats.md §6): two 4 KiB sectors, each starting with an
 * esp_ota_select_entry_t {ota_seq, seq_label[20], ota_state, crc}, crc = IDF CRC32
 * (§0: zlib.crc32 seeded with 0xFFFFFFFF) over ota_seq. Selection follows IDF's
 * bootloader_utility_get_selected_boot_partition without rollback or anti-rollback.
 */
import { crc32 } from 'node:zlib';

export const OTADATA_SECTOR = 0x1000;
export const OTA_ENTRY_SIZE = 32;
export const OtaState = { NEW: 0, PENDING_VERIFY: 1, VALID: 2, INVALID: 3, ABORTED: 4, UNDEFINED: 0xffffffff } as const;

export interface OtaEntry {
  seq: number;
  state: number;
  crc: number;
}

export function otaSeqCrc(seq: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(seq >>> 0);
  return crc32(b, 0xffffffff) >>> 0;
}

export function parseOtaEntry(bytes: Uint8Array): OtaEntry {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, OTA_ENTRY_SIZE);
  return { seq: b.readUInt32LE(0), state: b.readUInt32LE(24), crc: b.readUInt32LE(28) };
}

/** The 32 bytes of an entry, as esp_ota_set_boot_partition writes it. */
export function encodeOtaEntry(seq: number, state: number = OtaState.UNDEFINED): Buffer {
  const b = Buffer.alloc(OTA_ENTRY_SIZE, 0xff);
  b.writeUInt32LE(seq >>> 0, 0);
  b.writeUInt32LE(state >>> 0, 24);
  b.writeUInt32LE(otaSeqCrc(seq), 28);
  return b;
}

/** bootloader_common_ota_select_invalid: blank seq, or INVALID/ABORTED. */
export function otaEntryInvalid(e: OtaEntry): boolean {
  return e.seq === 0xffffffff || e.state === OtaState.INVALID || e.state === OtaState.ABORTED;
}

export function otaEntryValid(e: OtaEntry): boolean {
  return !otaEntryInvalid(e) && e.crc === otaSeqCrc(e.seq);
}

/**
 * Which app to try first: 'factory', or an OTA slot number. `appCount` is the number
 * of ota_N partitions; `hasFactory` whether a factory app exists. `initial` says that
 * both entries are blank or bad and no factory exists: the bootloader then writes
 * {seq = slot + 1, VALID} into sector 0 once that slot boots (set_actual_ota_seq).
 * `log` is what the bootloader prints at info/error level while choosing.
 */
export interface OtaSelection {
  start: 'factory' | number;
  initial: boolean;
  log: { level: 'I' | 'E'; text: string }[];
}

export function selectBootPartition(
  otadata: Uint8Array | undefined,
  appCount: number,
  hasFactory: boolean,
): OtaSelection {
  if (!otadata) return { start: 'factory', initial: false, log: [] };
  const a = parseOtaEntry(otadata.subarray(0, OTA_ENTRY_SIZE));
  const b = parseOtaEntry(otadata.subarray(OTADATA_SECTOR, OTADATA_SECTOR + OTA_ENTRY_SIZE));
  if ((otaEntryInvalid(a) && otaEntryInvalid(b)) || appCount === 0) {
    if (hasFactory)
      return { start: 'factory', initial: false, log: [{ level: 'I', text: 'Defaulting to factory image' }] };
    const bad = (e: OtaEntry) => e.seq === 0xffffffff || e.crc !== otaSeqCrc(e.seq);
    return { start: 0, initial: bad(a) && bad(b), log: [{ level: 'I', text: 'No factory image, trying OTA 0' }] };
  }
  const va = otaEntryValid(a);
  const vb = otaEntryValid(b);
  const active = va && vb ? (Math.max(a.seq, b.seq) === a.seq ? a : b) : va ? a : vb ? b : undefined;
  if (active) return { start: (active.seq - 1) % appCount, initial: false, log: [] };
  if (hasFactory) {
    return {
      start: 'factory',
      initial: false,
      log: [{ level: 'E', text: 'ota data partition invalid, falling back to factory' }],
    };
  }
  return {
    start: 'factory',
    initial: false,
    log: [{ level: 'E', text: 'ota data partition invalid and no factory, will try all partitions' }],
  };
}
