/** The operator REST API (express 5), mounted on the same HTTPS server as the device endpoint. */
import express, { type Express } from 'express';
import { dashboardRouter } from '../dashboard/router.ts';
import { GatewayError } from '../errors.ts';
import type { RestDeps } from './deps.ts';
import { cors, errorHandler, RestLimits, requireScope, securityHeaders } from './middleware.ts';
import { openApiDocument } from './openapi.ts';
import { apiKeysRouter, auditRouter } from './routes/api-keys.ts';
import { commandsRouter, deviceCommandsRouter } from './routes/commands.ts';
import { devicesRouter } from './routes/devices.ts';
import { sessionRouter } from './routes/session.ts';
import { telemetryRouter } from './routes/telemetry.ts';

export interface RestApp {
  app: Express;
  limits: RestLimits;
}

export function createRestApp(
  d: RestDeps,
  opts: { tls: boolean; version: string; health: () => { ok: boolean; detail: object } },
): RestApp {
  const app = express();
  const limits = new RestLimits(d.config.limits, d.metrics);
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c
  app.use(securityHeaders(opts.tls));
  app.use(cors(d.operator));
  app.use(limits.ip());
  app.use((req, _res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is('application/json'))
      return next(new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json'));
    next();
  });
  app.use(express.json({ limit: d.config.limits.restBodyBytes, strict: true, type: 'application/json' }));

  app.get('/health', (_req, res) => {
    const h = opts.health();
    res.status(h.ok ? 200 : 503).json({ status: h.ok ? 'ok' : 'degraded', ...h.detail });
  });
  app.get('/metrics', limits.route('metrics'), requireScope(d.operator, limits, 'read'), async (_req, res) => {
    res.setHeader('Content-Type', d.metrics.registry.contentType);
    res.send(await d.metrics.registry.metrics());
  });
  const doc = openApiDocument(opts.version);
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(doc);
  });
  app.use('/api/v1/session', sessionRouter(d, limits));
  app.use('/api/v1/devices/:id/telemetry', telemetryRouter(d, limits));
  app.use('/api/v1/devices/:id/commands', deviceCommandsRouter(d, limits));
  app.use('/api/v1/devices', devicesRouter(d, limits));
  app.use('/api/v1/commands', commandsRouter(d, limits));
  app.use('/api/v1/api-keys', apiKeysRouter(d, limits));
  app.use('/api/v1/audit', auditRouter(d, limits));
  app.use(dashboardRouter()); // the web dashboard: / and /assets/<version>/…
  app.use((_req, _res, next) =>
    next(new GatewayError('NOT_FOUND', 'no such route', { hint: 'see /api/v1/openapi.json' })),
  );
  app.use(errorHandler(d.metrics, (err) => d.log.error({ err }, 'REST handler failed')));
  return { app, limits };
}
