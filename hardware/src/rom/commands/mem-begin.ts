/** MEM_BEGIN (0x05): size, block count, block size and address of code or data for RAM. */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

const MAX_RAM_BLOCK = 0x4000;

export const memBegin: CommandHandler = (request, ctx) => {
  const [size = 0, blocks = 0, blockSize = 0, offset = 0] = words(request, 4);
  if (blockSize === 0 || blockSize > MAX_RAM_BLOCK) fail('bad-block-size');
  if (!ctx.chip.inRam(offset, size)) fail('ram-address', `0x${offset.toString(16)}+${size} is not in RAM`);
  if (blocks * blockSize < size) fail('ram-size', 'the blocks cannot hold the size');
  ctx.mem = { size, blocks, blockSize, offset };
  return {};
};
