/** FLASH_DEFL_DATA (0x11): the next block of the zlib stream, inflated and written in order. */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { dataBlock } from '../request.ts';

export const flashDeflData: CommandHandler = async (request, ctx) => {
  const block = dataBlock(request);
  const writer = ctx.flashWriter ?? fail('not-in-flash-mode', 'FLASH_DEFL_DATA before FLASH_DEFL_BEGIN');
  await writer.inflateBlock(block.seq, block.data);
  return {};
};
