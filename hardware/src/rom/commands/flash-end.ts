/**
 * FLASH_END (0x04): 0 reboots the chip, 1 runs the app ("run user code"). The stub
 * answers and stays unless told to reboot; the ROM leaves its loader either way.
 */
import type { CommandHandler, LoaderContext, Reply } from '../context.ts';
import { fail } from '../failure.ts';
import type { Request } from '../request.ts';
import { words } from '../request.ts';

export function endFlashSession(request: Request, ctx: LoaderContext, check?: () => void): Reply {
  const [stay = 0] = words(request, 1);
  const writer = ctx.flashWriter ?? fail('not-in-flash-mode', 'no FLASH_BEGIN to end');
  if (ctx.stub) writer.check(); // a failure in writing the last acknowledged block
  check?.();
  writer.abort();
  ctx.flashWriter = undefined;
  if (!stay) return { after: () => ctx.exit('reboot') };
  return ctx.stub ? {} : { after: () => ctx.exit('run') };
}

export const flashEnd: CommandHandler = (request, ctx) => endFlashSession(request, ctx);
