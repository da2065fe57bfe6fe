/**
 * SPI_ATTACH (0x0D): which pins the flash is on (0 = the default SPI pins). The ROM
 * takes a second word ("is legacy"); the stub only the first. The board's flash is
 * always attached, so this only checks the shape.
 */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const spiAttach: CommandHandler = (request) => {
  words(request, 1, 2);
  return {};
};
