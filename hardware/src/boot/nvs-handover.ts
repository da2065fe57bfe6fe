/**
 * The NVS hand-over between the board's flash and a Kiln host build. On an ESP32 the
 * firmware keeps its settings as blobs in NVS namespace `kiln` (kiln_port_esp32_storage.c:
 * nvs_set_blob); the host build keeps the same key-value pairs in a file, one
 * "key hex-value" line per key (kiln_port_host_sys.c). So:
 *
 * - handOver(): before the app starts, the `kiln` blobs in the NVS partition are
 *   written to the app's key-value file (an erased or unreadable partition gives an
 *   empty file).
 * - writeBack(): when the app stops (reset, power cut, board closed), the file is read
 *   back; if it differs from what was handed over, the partition is rewritten in the
 *   layout of esp-idf-nvs-partition-gen (@kiln/provisioning's nvs/): every other namespace's
 *   items unchanged, then the `kiln` namespace with the file's pairs. Unchanged
 *   settings leave the flash untouched.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { encodeNvs, type NvsItem, parseNvs } from '@kiln/provisioning';
import type { FlashChip } from '../flash/flash-chip.ts';

export const KILN_NVS_NAMESPACE = 'kiln';
const SECTOR = 4096;

export interface NvsRegion {
  offset: number;
  size: number;
}

/** Parses the host build's key-value file (lines "key hex"); malformed lines are skipped, as kv_load does. */
export function parseKvFile(text: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const line of text.split('\n')) {
    const m = /^([^ ]{1,15}) ([0-9a-fA-F]*)\r?$/.exec(line);
    if (m?.[1] && m[2] !== undefined) out.set(m[1], Buffer.from(m[2].slice(0, m[2].length & ~1), 'hex'));
  }
  return out;
}

export function formatKvFile(pairs: ReadonlyMap<string, Buffer>): string {
  return [...pairs].map(([k, v]) => `${k} ${v.toString('hex')}\n`).join('');
}

function kvText(pairs: ReadonlyMap<string, Buffer>): string {
  return formatKvFile(new Map([...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export class NvsHandover {
  readonly #flash: FlashChip;
  readonly #region: NvsRegion;
  readonly #file: string;
  #items: NvsItem[] = [];
  #handed = '';

  constructor(flash: FlashChip, region: NvsRegion, file: string) {
    this.#flash = flash;
    this.#region = region;
    this.#file = file;
  }

  /** Writes the partition's `kiln` blobs to the key-value file. */
  handOver(): void {
    this.#items = parseNvs(this.#flash.read(this.#region.offset, this.#region.size));
    const pairs = new Map<string, Buffer>();
    for (const item of this.#items) {
      if (item.namespace === KILN_NVS_NAMESPACE && item.type === 'blob') pairs.set(item.key, item.value);
    }
    this.#handed = kvText(pairs);
    const tmp = `${this.#file}.handover`;
    writeFileSync(tmp, formatKvFile(pairs));
    renameSync(tmp, this.#file);
  }

  /** Rewrites the partition from the key-value file if the app changed it. Returns whether it did. */
  writeBack(): boolean {
    const pairs = existsSync(this.#file) ? parseKvFile(readFileSync(this.#file, 'latin1')) : new Map<string, Buffer>();
    if (kvText(pairs) === this.#handed) return false;
    const kept = this.#items.filter((i) => !(i.namespace === KILN_NVS_NAMESPACE && i.type === 'blob'));
    const kiln: NvsItem[] = [...pairs].map(([key, value]) => ({
      namespace: KILN_NVS_NAMESPACE,
      key,
      type: 'blob',
      value,
    }));
    const image = encodeNvs([...kept, ...kiln], this.#region.size);
    for (let at = 0; at < image.length; at += SECTOR) this.#flash.eraseSector(this.#region.offset + at);
    this.#flash.program(this.#region.offset, image);
    this.#items = [...kept, ...kiln];
    this.#handed = kvText(pairs);
    return true;
  }
}
