/**
 * FLASH_BEGIN (0x02): erase size, block count, block size, offset, and, from the ESP32-S2
 * ROM and the stub on, an "encrypted" word (esptool-js sends it to the ESP32 ROM too).
 * The ROM erases the region now; the stub as it writes. FLASH_BEGIN(0, 0) followed by
 * FLASH_END is how esptool leaves the ROM loader.
 */
import type { CommandHandler, LoaderContext } from '../context.ts';
import { fail } from '../failure.ts';
import { FlashWriter } from '../flash-writer.ts';
import type { Request } from '../request.ts';
import { words } from '../request.ts';

export function beginFlashSession(request: Request, ctx: LoaderContext, compressed: boolean): void {
  const [size = 0, blocks = 0, blockSize = 0, offset = 0, encrypted = 0] = words(request, 4, 5);
  if (encrypted) fail('bad-parameter', 'flash encryption is not enabled on this chip');
  ctx.flashWriter?.abort();
  ctx.flashWriter = undefined;
  ctx.flashWriter = new FlashWriter(ctx.flash, { size, blocks, blockSize, offset, compressed, stub: ctx.stub });
}

export const flashBegin: CommandHandler = (request, ctx) => {
  beginFlashSession(request, ctx, false);
  return {};
};
