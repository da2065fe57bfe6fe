/** RUN_USER_CODE (0xD3, stub): no answer; the stub leaves and the app boots from flash. */
import type { CommandHandler } from '../context.ts';

export const runUserCode: CommandHandler = (_request, ctx) => ({ silent: true, after: () => ctx.exit('run') });
