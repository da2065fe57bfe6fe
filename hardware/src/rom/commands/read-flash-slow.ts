/** READ_FLASH_SLOW (0x0E, ROM): address, length ≤ 64; the answer is always 64 bytes long. */
import { FlashRangeError } from '../../flash/flash-chip.ts';
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

const BLOCK = 64;

export const readFlashSlow: CommandHandler = (request, ctx) => {
  const [address = 0, length = 0] = words(request, 2);
  if (length > BLOCK) fail('read-length', `${length} bytes, at most ${BLOCK} per command`);
  const data = Buffer.alloc(BLOCK, 0xff);
  try {
    ctx.flash.read(address, length).copy(data);
  } catch (e) {
    if (e instanceof FlashRangeError) fail('flash-read', e.message);
    throw e;
  }
  return { data };
};
