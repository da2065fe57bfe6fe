/** GET /api/v1/devices/:id/telemetry?from&to&metric&bucket&limit — raw or downsampled. */
import { isDeviceId } from '@kiln/protocol';
import { Router } from 'express';
import { GatewayError } from '../../errors.ts';
import { queryRollup } from '../../store/retention.ts';
import { queryInt, queryString } from '../body.ts';
import type { RestDeps } from '../deps.ts';
import { type RestLimits, requireScope } from '../middleware.ts';

const MAX_MS = 9_007_199_254_740_991;

export function telemetryRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router({ mergeParams: true });
  r.get('/', limits.route('telemetry.query'), requireScope(d.operator, limits, 'read'), (req, res) => {
    const id = (req.params as { id?: string }).id;
    if (typeof id !== 'string' || !isDeviceId(id) || !d.store.devices.get(id))
      throw new GatewayError('NOT_FOUND', 'no such device');
    const now = Date.now();
    const from = queryInt(req.query, 'from', now - 3_600_000, 0, MAX_MS);
    const to = queryInt(req.query, 'to', now + 60_000, 0, MAX_MS);
    if (to <= from) throw new GatewayError('VALIDATION_FAILED', 'to: expected a time after from');
    const metric = queryString(req.query, 'metric', /^[a-z][a-z0-9_.]{0,31}$/);
    const bucketSec = queryInt(req.query, 'bucket', 0, 0, 86_400 * 31);
    const limit = queryInt(req.query, 'limit', 1000, 1, 10_000);
    const source = queryString(req.query, 'source', /^(raw|rollup)$/) ?? 'raw';
    if (bucketSec > 0 && metric === undefined)
      throw new GatewayError('VALIDATION_FAILED', 'metric: required with bucket');
    if (source === 'rollup') {
      if (metric === undefined) throw new GatewayError('VALIDATION_FAILED', 'metric: required with source=rollup');
      return void res.json({
        deviceId: id,
        from,
        to,
        metric,
        source,
        points: queryRollup(d.store.db, id, metric, from, to),
      });
    }
    const points = d.store.telemetry.query({
      deviceId: id,
      from,
      to,
      limit,
      ...(metric ? { metric } : {}),
      ...(bucketSec > 0 ? { bucketMs: bucketSec * 1000 } : {}),
    });
    res.json({ deviceId: id, from, to, metric: metric ?? null, bucketSec: bucketSec || null, source, points });
  });
  return r;
}
