/** `kiln read-flash OFFSET SIZE OUT`: copy a flash region to a file, checked by MD5. */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { VerifyError } from '../errors.ts';
import { hex } from '../plan.ts';
import { type DeviceOptions, withSession } from './connect-options.ts';

export interface ReadFlashOptions extends DeviceOptions {
  address: number;
  size: number;
  /** File to write; omit to only return the bytes. */
  out?: string;
}

/**
 * Reads `size` bytes at `address` with the stub's READ_FLASH and checks them against
 * the device's own MD5 of the region.
 *
 * Returns: the bytes read.
 */
export function readFlash(options: ReadFlashOptions): Promise<Uint8Array> {
  const emit = options.onEvent ?? (() => {});
  return withSession(options, async (session) => {
    const name = `0x${hex(options.address)}`;
    emit({ type: 'region-start', name, address: options.address, size: options.size });
    const data = await session.loader.readFlash(options.address, options.size, (_p, got, total) =>
      emit({ type: 'progress', name, address: options.address, written: got, total, unit: 'bytes' }),
    );
    const md5 = createHash('md5').update(data).digest('hex');
    const onDevice = await session.md5(options.address, options.size);
    if (md5 !== onDevice) {
      throw new VerifyError('READ_MISMATCH', `the data read at ${name} does not match the device's MD5`, {
        hint: 'read it again, at a lower --baud',
      });
    }
    if (options.out) writeFileSync(options.out, data);
    return data;
  });
}
