/** ERASE_FLASH (0xD0, stub): the whole chip to 0xFF. */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const eraseFlash: CommandHandler = (request, ctx) => {
  words(request, 0);
  ctx.flash.eraseChip();
  return {};
};
