/**
 * SPI_SET_PARAMS (0x0B): id, total size, block, sector and page size, status mask,
 * the ROM's `flashchip` structure. The board knows its own flash, so it checks the shape.
 */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const spiSetParams: CommandHandler = (request) => {
  words(request, 6);
  return {};
};
