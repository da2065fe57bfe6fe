/**
 * FLASH_DATA (0x03): `[length, seq, 0, 0]` + data, XOR checksum in the header. The ROM
 * answers once the block is written; the stub as soon as it is checked, writing it
 * while the next one arrives (see flash-defl-data.ts).
 */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { dataBlock } from '../request.ts';

export const flashData: CommandHandler = (request, ctx) => {
  const block = dataBlock(request);
  const writer = ctx.flashWriter ?? fail('not-in-flash-mode', 'FLASH_DATA before FLASH_BEGIN');
  if (!ctx.stub) {
    writer.writeBlock(block.seq, block.data);
    return {};
  }
  writer.check();
  return { postProcess: () => writer.process(() => writer.writeBlock(block.seq, block.data)) };
};
