/** The dashboard's assets: compressed once, when first asked for, and byte-exact when unpacked. */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { loadDashboardAssets } from '../../src/dashboard/assets.ts';

/** brotliCompress fails this many more times (as zlib does when it cannot allocate), then works. */
const brotliFailures = vi.hoisted(() => ({ left: 0 }));
vi.mock('node:zlib', async (original) => {
  const zlib = await original<typeof import('node:zlib')>();
  return {
    ...zlib,
    brotliCompress(buf: Buffer, opts: object, cb: (e: Error | null, out?: Buffer) => void) {
      if (brotliFailures.left > 0) {
        brotliFailures.left--;
        process.nextTick(cb, Object.assign(new Error('Cannot allocate memory'), { code: 'Z_MEM_ERROR' }));
        return;
      }
      zlib.brotliCompress(buf, opts, cb);
    },
  };
});

describe('dashboard assets', () => {
  it('serve brotli and gzip bodies that unpack to the file, each compressed once', async () => {
    const assets = loadDashboardAssets();
    const all = [assets.index, ...assets.files.values()];
    expect(assets.files.has('vendor/uPlot.esm.js')).toBe(true);
    for (const a of all) {
      const br = await a.encoded('br');
      expect(brotliDecompressSync(br).equals(a.body)).toBe(true);
      expect(gunzipSync(await a.encoded('gzip')).equals(a.body)).toBe(true);
      expect(a.encoded('br')).toBe(a.encoded('br')); // the same promise: not compressed again
      expect(await a.encoded('br')).toBe(br);
    }
    const uplot = assets.files.get('vendor/uPlot.esm.js');
    expect((await uplot?.encoded('br'))?.length).toBeLessThan((uplot?.body.length ?? 0) / 3);
  });

  it('compresses again after a failed compression, instead of failing that asset for good', async () => {
    const a = loadDashboardAssets().index;
    brotliFailures.left = 1;
    await expect(a.encoded('br')).rejects.toThrow('Cannot allocate memory');
    expect(brotliDecompressSync(await a.encoded('br')).equals(a.body)).toBe(true);
  });
});
