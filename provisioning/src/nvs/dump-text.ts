/** How `kiln nvs dump` prints a dump: text in the shape of nvs_tool's, or JSON. */
import type { NvsDump } from './dump.ts';
import type { NvsItem } from './format.ts';

export interface NvsJsonItem {
  namespace: string;
  key: string;
  type: string;
  /** Integers as numbers (64-bit ones as decimal strings), strings as text, blobs as base64. */
  value: number | string;
}

export function itemJson(item: NvsItem): NvsJsonItem {
  const { namespace, key, type } = item;
  if (item.type === 'blob') return { namespace, key, type, value: item.value.toString('base64') };
  if (item.type === 'string') return { namespace, key, type, value: item.value };
  const v = item.value;
  return { namespace, key, type, value: type.endsWith('64') ? v.toString() : Number(v) };
}

export function nvsDumpJson(dump: NvsDump): object {
  return {
    namespaces: dump.namespaces,
    items: dump.items.map(itemJson),
    pages: dump.pages.map((p) => ({
      ...p,
      entries: p.entries.filter((e) => e.state !== 'empty' || e.key !== ''),
    })),
    problems: dump.problems,
  };
}

export function formatNvsDump(dump: NvsDump, all = false): string {
  const out: string[] = [];
  for (const p of dump.pages) {
    if (p.state === 'empty') {
      out.push(`Page Empty, Page address: 0x${p.address.toString(16)}`);
      continue;
    }
    out.push(
      `Page no. ${p.seq}, Status: ${p.state.toUpperCase()}, Version: ${p.version}, ` +
        `CRC32: ${p.crcOk ? 'ok' : 'MISMATCH'}, Page address: 0x${p.address.toString(16)}`,
    );
    let emptyRun = 0;
    const flush = () => {
      if (emptyRun > 0) out.push(`  … ${emptyRun} empty entr${emptyRun === 1 ? 'y' : 'ies'}`);
      emptyRun = 0;
    };
    for (const e of p.entries) {
      if (e.state === 'empty' && e.key === '') {
        emptyRun++;
        continue;
      }
      if (!all && e.state !== 'written') continue;
      flush();
      out.push(
        ` ${String(e.index).padStart(3, '0')}. ${e.state.padEnd(7)} ns ${String(e.ns).padStart(3, '0')}  ${e.type.padEnd(10)} span ${String(e.span).padStart(3)} chunk ${String(e.chunkIndex).padStart(3)} crc ${e.crcOk ? 'ok' : 'BAD'} | ${e.key}: ${e.summary}`,
      );
    }
    flush();
  }
  out.push('', 'Items:');
  for (const item of dump.items) {
    const j = itemJson(item);
    const shown = item.type === 'blob' ? `${item.value.length} bytes ${preview(item.value)}` : JSON.stringify(j.value);
    out.push(`  ${item.namespace}:${item.key} (${item.type}) = ${shown}`);
  }
  out.push('', dump.problems.length === 0 ? 'No problems found.' : `Problems (${dump.problems.length}):`);
  for (const p of dump.problems) out.push(`  ${p}`);
  return `${out.join('\n')}\n`;
}

function preview(b: Buffer): string {
  const hex = b.subarray(0, 32).toString('hex');
  return b.length > 32 ? `${hex}…` : hex;
}
