/**
 * FLASH_DEFL_BEGIN (0x10): like FLASH_BEGIN for a zlib stream. The ROM wants the size
 * rounded up to whole blocks (it erases that much now); the stub the exact uncompressed size.
 */
import type { CommandHandler } from '../context.ts';
import { beginFlashSession } from './flash-begin.ts';

export const flashDeflBegin: CommandHandler = (request, ctx) => {
  beginFlashSession(request, ctx, true);
  return {};
};
