/**
 * Serves the web dashboard: `/` (the page) and `/assets/<version>/…` (its modules, styles
 * and uPlot), from memory. The page runs under a strict CSP: scripts, styles, images and
 * connections (REST and the operator stream's wss://) from this origin only, no inline code,
 * and Trusted Types enforced so no code path can assign HTML strings to the DOM.
 */
import { type Request, type Response, Router } from 'express';
import { type Asset, type DashboardAssets, type Encoding, loadDashboardAssets } from './assets.ts';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  // 'self' covers ws:/wss: to this host and port (CSP level 3).
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

async function send(req: Request, res: Response, a: Asset, cacheControl: string): Promise<void> {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), usb=(), serial=()');
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('ETag', a.etag);
  res.append('Vary', 'Accept-Encoding');
  res.setHeader('Content-Type', a.type);
  const inm = req.headers['if-none-match'];
  if (inm?.split(',').some((t) => t.trim() === a.etag)) {
    res.status(304).end();
    return;
  }
  const accept = String(req.headers['accept-encoding'] ?? '');
  const encoding: Encoding | undefined = /\bbr\b/.test(accept) ? 'br' : /\bgzip\b/.test(accept) ? 'gzip' : undefined;
  const body = encoding ? await a.encoded(encoding) : a.body;
  if (encoding) res.setHeader('Content-Encoding', encoding);
  res.setHeader('Content-Length', String(body.length));
  res.status(200).end(req.method === 'HEAD' ? undefined : body);
}

/** Loaded once per process, however many gateways it starts (tests start many); compressed on first request. */
let loaded: DashboardAssets | undefined;

export function dashboardRouter(given?: DashboardAssets): Router {
  if (!given) loaded ??= loadDashboardAssets();
  const assets = given ?? (loaded as DashboardAssets);
  const r = Router();
  // The page itself is revalidated on every load (cheap: a 304), so a new build shows at once.
  const page = (req: Request, res: Response) => send(req, res, assets.index, 'no-cache');
  r.get('/', page);
  r.get('/index.html', page);
  r.use(assets.base, (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const a = assets.files.get(req.path.slice(1));
    if (!a) return next();
    return send(req, res, a, 'public, max-age=31536000, immutable');
  });
  return r;
}
