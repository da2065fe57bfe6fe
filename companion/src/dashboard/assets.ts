/**
 * The dashboard's static files, loaded once at start-up into memory: companion/web/ plus
 * uPlot from node_modules (no CDN, no bundler). Every asset is compressed (brotli, gzip)
 * once, when first asked for, and served under `/assets/<version>/`, where the version is a
 * hash of all of them, so browsers may cache them for a year and a new gateway build is
 * never served stale.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip as gzipCompress } from 'node:zlib';

export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export type Encoding = 'br' | 'gzip';

export interface Asset {
  type: string;
  body: Buffer;
  /** The body compressed, once, on first request (most gateways never serve the dashboard). */
  encoded(encoding: Encoding): Promise<Buffer>;
  etag: string;
}

export interface DashboardAssets {
  /** `/assets/<version>` */
  base: string;
  index: Asset;
  /** by path below the base, e.g. `js/main.js` */
  files: ReadonlyMap<string, Asset>;
}

const brotli = promisify(brotliCompress);
const gzip = promisify(gzipCompress);

function asset(path: string, body: Buffer): Asset {
  const type = TYPES[extname(path)];
  if (!type) throw new Error(`dashboard asset of unknown type: ${path}`);
  const cache = new Map<Encoding, Promise<Buffer>>();
  return {
    type,
    body,
    // On libuv's thread pool, not the event loop: compressing every asset at start-up took
    // 300 ms of a restart under a reconnecting fleet. Quality 9 where 11 would cost far more.
    encoded(encoding) {
      let p = cache.get(encoding);
      if (!p) {
        const made =
          encoding === 'br'
            ? brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 9 } })
            : gzip(body, { level: 9 });
        // A failure (zlib out of memory, say) is not kept: the next request compresses again.
        made.catch(() => {
          if (cache.get(encoding) === made) cache.delete(encoding);
        });
        cache.set(encoding, made);
        p = made;
      }
      return p;
    },
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() && TYPES[extname(e.name)] ? [join(dir, e.name)] : [],
  );
}

/** uPlot's ES module and stylesheet, from the installed package (resolved as Node would). */
function vendorFiles(): Map<string, Buffer> {
  const dist = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  return new Map([
    ['vendor/uPlot.esm.js', readFileSync(join(dist, 'uPlot.esm.js'))],
    ['vendor/uPlot.min.css', readFileSync(join(dist, 'uPlot.min.css'))],
  ]);
}

export function loadDashboardAssets(root = WEB_ROOT): DashboardAssets {
  const raw = new Map<string, Buffer>();
  for (const file of walk(root)) raw.set(relative(root, file).split(sep).join('/'), readFileSync(file));
  for (const [path, body] of vendorFiles()) raw.set(path, body);
  const template = raw.get('index.html');
  if (!template) throw new Error(`the dashboard has no index.html in ${root}`);
  raw.delete('index.html');

  const hash = createHash('sha256');
  for (const [path, body] of [...raw].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(path).update('\0').update(body);
  const base = `/assets/${hash.digest('base64url').slice(0, 12)}`;

  const files = new Map<string, Asset>();
  for (const [path, body] of raw) files.set(path, asset(path, body));
  // Every module is announced up front so the browser fetches them in parallel, not import by import.
  const preload = [...files.keys()]
    .filter((p) => p.endsWith('.js'))
    .sort()
    .map((p) => `<link rel="modulepreload" href="${base}/${p}">`)
    .join('\n    ');
  const html = template.toString('utf8').replace('<!-- kiln:modulepreload -->', preload).replaceAll('{{assets}}', base);
  return { base, index: asset('index.html', Buffer.from(html)), files };
}
