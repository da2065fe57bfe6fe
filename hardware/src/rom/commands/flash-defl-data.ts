/**
 * FLASH_DEFL_DATA (0x11): the next block of the zlib stream, inflated and written in order.
 * The ROM answers once the block is written. The stub answers as soon as the block is
 * checked, then inflates and writes it while the host sends the next one (esptool's
 * stub: "ACK DATA commands immediately, then process them [...] allowing next command
 * to buffer", `stub_flasher.c`; esp-flasher-stub defers the write to a post-process
 * step "for double-buffering"); a failure in writing it answers the next block.
 */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { dataBlock } from '../request.ts';

export const flashDeflData: CommandHandler = async (request, ctx) => {
  const block = dataBlock(request);
  const writer = ctx.flashWriter ?? fail('not-in-flash-mode', 'FLASH_DEFL_DATA before FLASH_DEFL_BEGIN');
  if (!ctx.stub) {
    await writer.inflateBlock(block.seq, block.data);
    return {};
  }
  writer.check();
  return { postProcess: () => writer.process(() => writer.inflateBlock(block.seq, block.data)) };
};
