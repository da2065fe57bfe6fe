/** SPI_FLASH_MD5 (0x13): address, size, 0, 0. The ROM answers 32 ASCII hex digits, the stub 16 raw bytes. */
import { createHash } from 'node:crypto';
import { FlashRangeError } from '../../flash/flash-chip.ts';
import type { CommandHandler } from '../context.ts';
import { fail } from '../failure.ts';
import { words } from '../request.ts';

export const spiFlashMd5: CommandHandler = (request, ctx) => {
  const [address = 0, size = 0] = words(request, 4);
  let digest: Buffer;
  try {
    digest = createHash('md5').update(ctx.flash.read(address, size)).digest();
  } catch (e) {
    if (e instanceof FlashRangeError) fail('flash-read', e.message);
    throw e;
  }
  return { data: ctx.stub ? digest : Buffer.from(digest.toString('hex'), 'ascii') };
};
