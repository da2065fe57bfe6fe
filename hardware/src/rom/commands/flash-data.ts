/** FLASH_DATA (0x03): `[length, seq, 0, 0]` + data, XOR checksum in the header. */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { dataBlock } from '../request.ts';

export const flashData: CommandHandler = (request, ctx) => {
  const block = dataBlock(request);
  const writer = ctx.flashWriter ?? fail('not-in-flash-mode', 'FLASH_DATA before FLASH_BEGIN');
  writer.writeBlock(block.seq, block.data);
  return {};
};
