/**
 * MEM_END (0x06): flag (0 = run), entry point. Code started this way is taken for a
 * flasher stub: the board cannot execute Xtensa or RISC-V, it plays the stub esptool
 * and esptool-js upload (it greets with "OHAI" and serves the stub command set). An
 * entry outside what MEM_DATA wrote hangs the chip, as a jump into nothing would.
 */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const memEnd: CommandHandler = (request, ctx) => {
  const [noRun = 0, entry = 0] = words(request, 2);
  ctx.mem = undefined;
  if (noRun) return {};
  return { after: () => ctx.runRam(entry) };
};
