/** ERASE_REGION (0xD1, stub): offset, size, both on 4 KiB sector boundaries. */
import { FlashRangeError, SECTOR_SIZE } from '../../flash/flash-chip.ts';
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

export const eraseRegion: CommandHandler = (request, ctx) => {
  const [offset = 0, size = 0] = words(request, 2);
  if (offset % SECTOR_SIZE || size % SECTOR_SIZE) fail('bad-length', 'not on 4 KiB sector boundaries');
  try {
    ctx.flash.eraseRange(offset, size);
  } catch (e) {
    if (e instanceof FlashRangeError) fail('flash-operation', e.message);
    throw e;
  }
  return {};
};
