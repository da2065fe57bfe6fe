/**
 * CHANGE_BAUDRATE (0x0F): new rate, old rate (0 from the ROM's point of view). The
 * answer goes out at the old rate; the UART switches once it is sent, and the host
 * must follow (RFC 2217 SET-BAUDRATE) to hear anything more.
 */
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

export const changeBaudrate: CommandHandler = (request, ctx) => {
  const [baud = 0] = words(request, 2);
  if (baud < 300 || baud > 5_000_000) fail('bad-parameter', `${baud} baud is outside the UART's range`);
  return { after: () => ctx.setBaud(baud) };
};
