/** READ_REG (0x0A): one 32-bit word, answered in the response's value field. */
import type { CommandHandler } from '../context.ts';
import { words } from '../request.ts';

export const readReg: CommandHandler = (request, ctx) => {
  const [address = 0] = words(request, 1);
  return { value: ctx.registers.read(address) };
};
