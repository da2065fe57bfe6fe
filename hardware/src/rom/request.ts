/**
 * A parsed loader request (`00 op size:u16 checksum:u32 data`) and the readers every
 * handler shares: fixed u32 words, and the `[length, seq, 0, 0] + data` block that
 * MEM_DATA, FLASH_DATA and FLASH_DEFL_DATA carry with an XOR checksum seeded 0xEF.
 */
import { ROM_LOADER_CHECKSUM_SEED } from '@kiln/protocol';
import { fail } from './failure.ts';

export interface Request {
  op: number;
  checksum: number;
  data: Buffer;
}

/** The payload as u32 words; at least `min` of them, at most `max`, and nothing left over. */
export function words(request: Request, min: number, max = min): number[] {
  const { data } = request;
  if (data.length % 4 !== 0 || data.length < min * 4 || data.length > max * 4) {
    fail('bad-length', `expected ${min}${max !== min ? `-${max}` : ''} words, got ${data.length} bytes`);
  }
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 4) out.push(data.readUInt32LE(i));
  return out;
}

export function checksum(data: Uint8Array): number {
  let state = ROM_LOADER_CHECKSUM_SEED;
  for (const b of data) state ^= b;
  return state;
}

export interface DataBlock {
  seq: number;
  data: Buffer;
}

/** Reads and checks a data block: its length word must match and its checksum hold. */
export function dataBlock(request: Request): DataBlock {
  const { data } = request;
  if (data.length < 16) fail('bad-length', 'data block shorter than its 16-byte header');
  const length = data.readUInt32LE(0);
  const seq = data.readUInt32LE(4);
  const block = data.subarray(16);
  if (length !== block.length) fail('bad-length', `header says ${length} bytes, ${block.length} came`);
  if (checksum(block) !== request.checksum) fail('bad-checksum');
  return { seq, data: block };
}
