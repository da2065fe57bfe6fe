/** /api/v1/api-keys (admin): create (the key is shown once), list, revoke; /api/v1/audit. */
import { Router } from 'express';
import { GatewayError } from '../../errors.ts';
import { SCOPES } from '../../store/api-keys.ts';
import { checkBody, queryInt } from '../body.ts';
import type { RestDeps } from '../deps.ts';
import { keyOf, type RestLimits, requireScope } from '../middleware.ts';

export function apiKeysRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router();
  const admin = requireScope(d.operator, limits, 'admin');
  r.post('/', limits.route('apikeys.create'), admin, (req, res) => {
    const body = checkBody<{ name: string; scope: (typeof SCOPES)[number] }>(req.body, {
      name: { kind: 'string', min: 1, max: 64, pattern: /^[\x20-\x7e]+$/ },
      scope: { kind: 'string', max: 8, oneOf: SCOPES },
    });
    const { row, key } = d.store.apiKeys.create(body.name, body.scope);
    d.store.audit.record({
      actor: keyOf(res).id,
      action: 'apikey.create',
      target: row.id,
      detail: { scope: row.scope },
      ...(req.ip ? { ip: req.ip } : {}),
    });
    res.status(201).json({ ...row, key });
  });
  r.get('/', limits.route('apikeys.list'), admin, (_req, res) => {
    res.json({ apiKeys: d.store.apiKeys.list() });
  });
  r.delete('/:id', limits.route('apikeys.revoke'), admin, (req, res) => {
    const id = String(req.params.id);
    if (!d.store.apiKeys.get(id)) throw new GatewayError('NOT_FOUND', 'no such API key');
    d.store.apiKeys.revoke(id);
    // Its browser sessions and operator streams end now, not at their next use.
    d.operator.keyRevoked(id);
    d.store.audit.record({
      actor: keyOf(res).id,
      action: 'apikey.revoke',
      target: id,
      ...(req.ip ? { ip: req.ip } : {}),
    });
    res.status(204).end();
  });
  return r;
}

export function auditRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router();
  r.get('/', limits.route('audit.list'), requireScope(d.operator, limits, 'admin'), (req, res) => {
    const before =
      req.query.before === undefined ? undefined : queryInt(req.query, 'before', 0, 1, Number.MAX_SAFE_INTEGER);
    res.json({ entries: d.store.audit.list(queryInt(req.query, 'limit', 100, 1, 1000), before) });
  });
  return r;
}
