/** The dashboard's assets: compressed once, when first asked for, and byte-exact when unpacked. */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadDashboardAssets } from '../../src/dashboard/assets.ts';

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
});
