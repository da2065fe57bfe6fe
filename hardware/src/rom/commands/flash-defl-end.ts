/**
 * FLASH_DEFL_END (0x12): as FLASH_END. The stub also checks that the stream delivered
 * every byte FLASH_DEFL_BEGIN announced. esptool sends it to the ROM only to reboot.
 */
import type { CommandHandler } from '../context.ts';
import { endFlashSession } from './flash-end.ts';

export const flashDeflEnd: CommandHandler = (request, ctx) =>
  endFlashSession(request, ctx, ctx.stub ? () => ctx.flashWriter?.checkComplete() : undefined);
