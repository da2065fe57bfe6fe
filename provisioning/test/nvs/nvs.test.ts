/** NVS CSV errors, the generator's quirks, the dump's checks and `kiln nvs` (fixed cases). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dumpNvs, generateNvs, nvsCrc32, parseNvsCsv, pythonBase64 } from '../../src/index.ts';
import { referenceImages } from './reference.ts';

const dir = mkdtempSync(join(tmpdir(), 'kiln-nvs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KILN = fileURLToPath(new URL('../../../cli/bin/kiln.js', import.meta.url));
const H = 'key,type,encoding,value\n';

const VECTOR = `${H}prov,namespace,,\nssid,data,string,MyAP\ndevkey,data,hex2bin,00112233445566778899aabbccddeeff\nn,data,u8,7\n`;

function gen(csv: string, size = 0x3000): Buffer {
  return generateNvs(csv, { size, baseDir: dir });
}

describe('kiln nvs gen: CSV and quirks', () => {
  it('matches formats.md §2 vector', () => {
    const img = gen(VECTOR);
    expect(img.subarray(0x1c, 0x20).toString('hex')).toBe('842dbab9');
    expect(img.subarray(0x20, 0x22).toString('hex')).toBe('aaea');
    expect(img.subarray(0x1000).every((b) => b === 0xff)).toBe(true);
    expect(dumpNvs(img).items.map((i) => i.key)).toEqual(['ssid', 'devkey', 'n']);
  });

  it('reports bad CSV rows with their line numbers', () => {
    const cases: [string, RegExp][] = [
      ['key,type,value\n', /line 1: header is 'key,type,value'/],
      [`${H}x,data,u8,1\n`, /line 2 .*before any namespace/],
      [`${H}# c\nns,namespace,,\nk,data,u8,256\n`, /line 4 \(key 'k'\): u8: 256 is outside 0\.\.255/],
      [`${H}ns,namespace,,\nk,data,i8,0x10\n`, /line 3 .*not a decimal integer/],
      [`${H}ns,namespace,,\nthis_key_is_too_long,data,u8,1\n`, /line 3 .*20 characters; at most 15/],
      [`${H}ns,namespace,,\nk,data,hex2bin,abc\n`, /line 3 .*odd number/],
      [`${H}ns,namespace,,\nk,data,hex2bin,zz\n`, /line 3 .*not a hex digit/],
      [`${H}ns,namespace,,\nk,data,float,1\n`, /line 3 .*encoding 'float' is not one of/],
      [`${H}ns,namespace,,\nk,data,blob_fill(2;0x00),abc\n`, /line 3 .*longer than/],
      [`${H}ns,namespace,,\nk,blob,u8,1\n`, /line 3 .*type 'blob'/],
      [`${H}ns,namespace,,\nk,data,string,"open\n`, /line 3: a quoted field is never closed/],
      [`${H}ns,namespace,,\nk,file,binary,missing.bin\n`, /line 3 .*cannot read/],
      [`${H}ns,namespace,,\nk,data,base64,QUJDR\n`, /line 3 .*4n\+1/],
      [`${H}ns,namespace,,\nk,data,string,${'x'.repeat(3968)}\n`, /line 3 .*one page takes at most 125/],
    ];
    for (const [csv, message] of cases) expect(() => gen(csv), csv.slice(0, 80)).toThrow(message);
    expect(() => gen(VECTOR, 0x3100)).toThrow(/multiple of 4096/);
    expect(() => gen(`${H}ns,namespace,,\nk,data,hex2bin,${'00'.repeat(9000)}\n`, 0x3000)).toThrow(/does not fit/);
  });

  it('reads CSV as Python does: quotes, comments, blank lines', () => {
    const rows = parseNvsCsv(`${H}\n# skip\nns,namespace,,\nk,data,string,"a,""b""\nc"\n\nj,data,string,"x"y\n`);
    expect(rows.map((r) => [r.line, r.key, r.value])).toEqual([
      [4, 'ns', ''],
      [5, 'k', 'a,"b"\nc'],
      [8, 'j', 'xy'],
    ]);
    expect(pythonBase64('QU JD\nRA==trailing').toString()).toBe('ABCD');
  });

  it('reproduces the Wi-Fi, namespace-revisit, read-only and string-limit quirks of the generator', () => {
    const csvs = {
      sta: `${H}nvs.net80211,namespace,,\nsta.ssid,data,blob_sz_fill(32;0x00),Lab\nsta.pswd,data,blob_fill(64;0x00),pw\n`,
      ap: `${H}net,namespace,,\nap.ssid,data,string,AP\nap.passwd,data,string,password1\nap.authmode,data,u8,3\nap.ssid,data,string,AP2\n`,
      revisit: `${H}a,namespace,,\nx,data,u8,1\nb,namespace,,\na,namespace,,\ny,data,u8,2\n`,
      ro: `${H}a,namespace,,\nx,data,u8,1\n`,
      long: `${H}a,namespace,,\ns,data,string,${'x'.repeat(3970)}\n`,
    };
    const jobs = Object.entries(csvs).map(([name, csv]) => {
      writeFileSync(join(dir, `${name}.csv`), csv);
      return { csv: join(dir, `${name}.csv`), out: join(dir, `${name}.bin`), size: name === 'ro' ? 0x2000 : 0x4000 };
    });
    const [sta, ap, revisit, ro, long] = referenceImages(jobs);
    expect(gen(csvs.sta, 0x4000).equals(sta as Buffer)).toBe(true);
    expect(dumpNvs(gen(csvs.sta, 0x4000)).items.map((i) => i.key)).toEqual([
      'sta.ssid',
      'sta.apinfo',
      'sta.pmk',
      'sta.apsw',
      'sta.pswd',
    ]);
    expect(gen(csvs.ap, 0x4000).equals(ap as Buffer)).toBe(true);
    expect(dumpNvs(gen(csvs.ap, 0x4000)).items.filter((i) => i.key === 'ap.pmk_info')).toHaveLength(1); // replaced by the 2nd
    const rv = dumpNvs(gen(csvs.revisit, 0x4000));
    expect(gen(csvs.revisit, 0x4000).equals(revisit as Buffer)).toBe(true);
    expect(rv.items.map((i) => `${i.namespace}:${i.key}`)).toEqual(['a:x', 'b:y']); // y lands in b, not a
    expect(gen(csvs.ro, 0x2000).equals(ro as Buffer)).toBe(true);
    expect((ro as Buffer).length).toBe(0x1000); // read-only: the image stops after the last used page
    expect(Buffer.isBuffer(long)).toBe(false); // the generator crashes (PageFullError); kiln says why
    expect(() => gen(csvs.long, 0x4000)).toThrow(/line 3/);
  });
});

describe('kiln nvs gen --version 1', () => {
  it('writes V1 images (single-entry blobs, 1984-byte limit) as the generator does', () => {
    const csv = `${H}a,namespace,,\ns,data,string,hello\nb,data,hex2bin,${'5a'.repeat(1984)}\nc,data,base64,AAECAw==\nn,data,i32,-7\n`;
    writeFileSync(join(dir, 'v1.csv'), csv);
    const [ref] = referenceImages([{ csv: join(dir, 'v1.csv'), out: join(dir, 'v1.bin'), size: 0x4000, version: 1 }]);
    const mine = generateNvs(csv, { size: 0x4000, version: 1 });
    expect(mine.equals(ref as Buffer)).toBe(true);
    expect(mine[8]).toBe(0xff); // page version byte: V1
    expect(dumpNvs(mine).items.map((i) => i.key)).toEqual(['s', 'b', 'c', 'n']);
    expect(() =>
      generateNvs(`${H}a,namespace,,\nb,data,hex2bin,${'00'.repeat(1985)}\n`, { size: 0x4000, version: 1 }),
    ).toThrow(/1984-byte limit/);
  });
});

describe('kiln nvs dump', () => {
  it('checks page and entry CRCs, spans and blob chunks', () => {
    const img = gen(`${H}ns,namespace,,\nk,data,hex2bin,${'ab'.repeat(5000)}\nn,data,u32,7\n`, 0x6000);
    expect(dumpNvs(img).problems).toEqual([]);
    const badPage = Buffer.from(img);
    badPage[4096 + 4] = 9; // page 1's sequence number: its header CRC fails
    const d1 = dumpNvs(badPage);
    expect(d1.problems).toContain('page 1: header CRC mismatch');
    expect(d1.items).toEqual([]); // the blob's index and n were on page 1
    const noChunk = Buffer.from(img);
    noChunk.fill(0xff, 0, 4096); // page 0 (namespace, chunk 0) erased and blank
    expect(dumpNvs(noChunk).problems.some((p) => /namespace index 1 has no namespace entry/.test(p))).toBe(true);
    const badData = Buffer.from(img);
    badData[64 + 32 * 2 + 3] = (badData[64 + 32 * 2 + 3] ?? 0) ^ 1; // a data byte of chunk 0
    expect(dumpNvs(badData).problems.some((p) => /data CRC mismatch/.test(p))).toBe(true);
    const badSpan = Buffer.from(img);
    badSpan[64 + 32 + 2] = 3; // namespace entry at 0, chunk 0 header at entry 1: wrong span
    badSpan.writeUInt32LE(0, 64 + 32 + 4);
    const e = badSpan.subarray(64 + 32, 96 + 32);
    e.writeUInt32LE(nvsCrc32(Buffer.concat([e.subarray(0, 4), e.subarray(8)])), 4);
    expect(dumpNvs(badSpan).problems.some((p) => /span 3, its size needs/.test(p))).toBe(true);
  });

  it('runs as `kiln nvs gen` and `kiln nvs dump --json`, same keys and values as the CSV', () => {
    const csv = join(dir, 'cli.csv');
    writeFileSync(csv, `${VECTOR}big,data,i64,-9223372036854775808\nb64,data,base64,AAEC\n`);
    const bin = join(dir, 'cli.bin');
    const g = spawnSync(process.execPath, [KILN, 'nvs', 'gen', csv, bin, '--size', '0x3000'], { encoding: 'utf8' });
    expect(g.status, g.stderr).toBe(0);
    expect(readFileSync(bin).length).toBe(0x3000);
    const d = spawnSync(process.execPath, [KILN, 'nvs', 'dump', bin, '--json'], { encoding: 'utf8' });
    expect(d.status, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).items).toEqual([
      { namespace: 'prov', key: 'ssid', type: 'string', value: 'MyAP' },
      {
        namespace: 'prov',
        key: 'devkey',
        type: 'blob',
        value: Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'),
      },
      { namespace: 'prov', key: 'n', type: 'u8', value: 7 },
      { namespace: 'prov', key: 'big', type: 'i64', value: '-9223372036854775808' },
      { namespace: 'prov', key: 'b64', type: 'blob', value: 'AAEC' },
    ]);
    const text = spawnSync(process.execPath, [KILN, 'nvs', 'dump', bin], { encoding: 'utf8' });
    expect(text.stdout).toMatch(/Page no\. 0, Status: ACTIVE, Version: 2, CRC32: ok/);
    expect(text.stdout).toMatch(/prov:ssid \(string\) = "MyAP"/);
    const bad = spawnSync(process.execPath, [KILN, 'nvs', 'gen', csv, bin, '--size', '0x3001'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/multiple of 4096/);
  });
});
