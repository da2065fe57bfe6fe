/** MEM_DATA (0x07): `[length, seq, 0, 0]` + data into RAM at offset + seq × block size. */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { dataBlock } from '../request.ts';

export const memData: CommandHandler = (request, ctx) => {
  const block = dataBlock(request);
  const mem = ctx.mem ?? fail('not-in-flash-mode', 'MEM_DATA before MEM_BEGIN');
  if (block.data.length > mem.blockSize) fail('bad-length', 'block larger than the block size');
  if (block.seq >= mem.blocks) fail('ram-size', `block ${block.seq} of ${mem.blocks}`);
  const address = mem.offset + block.seq * mem.blockSize;
  if (address + block.data.length > mem.offset + mem.size) fail('ram-size', 'data past the announced size');
  ctx.ram.write(address, block.data);
  return {};
};
