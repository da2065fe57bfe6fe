import { describe, expect, it } from 'vitest';
import { normalizeMd5 } from '../../src/loader/md5.ts';

describe('normalizeMd5', () => {
  const md5 = '5f4f9447ae933a91392d72182c32f772';
  it('undoes esptool-js hex-encoding the ROM’s 32 ASCII hex digits a second time', () => {
    expect(normalizeMd5(Buffer.from(md5.toUpperCase(), 'latin1').toString('hex'))).toBe(md5);
  });
  it('leaves the stub’s answer (16 raw bytes, hex-encoded once) alone', () => {
    expect(normalizeMd5(md5)).toBe(md5);
  });
});
