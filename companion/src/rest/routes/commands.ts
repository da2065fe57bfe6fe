/** Commands: POST/GET /api/v1/devices/:id/commands, GET /api/v1/commands/:id. */
import { isDeviceId, isToken } from '@kiln/protocol';
import { Router } from 'express';
import { GatewayError } from '../../errors.ts';
import { checkBody, queryInt } from '../body.ts';
import type { RestDeps } from '../deps.ts';
import { keyOf, type RestLimits, requireScope } from '../middleware.ts';

export function deviceCommandsRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router({ mergeParams: true });
  const deviceId = (p: unknown) => {
    const id = (p as { id?: string }).id;
    if (typeof id !== 'string' || !isDeviceId(id)) throw new GatewayError('NOT_FOUND', 'no such device');
    return id;
  };
  r.post('/', limits.route('commands.send'), requireScope(d.operator, limits, 'operate'), (req, res) => {
    const id = deviceId(req.params);
    const body = checkBody<{ name: string; args?: Record<string, unknown>; ttlSec?: number }>(req.body, {
      name: { kind: 'string', min: 1, max: 32, pattern: /^[a-z][a-z0-9_.]{0,31}$/ },
      args: { kind: 'object', maxKeys: 32, maxBytes: 4096, optional: true },
      ttlSec: { kind: 'integer', min: 1, max: 86_400, optional: true },
    });
    const key = keyOf(res);
    const row = d.commands.create({
      deviceId: id,
      name: body.name,
      ...(body.args ? { args: body.args } : {}),
      ...(body.ttlSec ? { ttlMs: body.ttlSec * 1000 } : {}),
      actor: key.id,
    });
    d.store.audit.record({
      actor: key.id,
      action: 'command.send',
      target: `${id}/${row.id}`,
      detail: { name: body.name },
      ...(req.ip ? { ip: req.ip } : {}),
    });
    res.status(202).json(row);
  });
  r.get('/', limits.route('commands.list'), requireScope(d.operator, limits, 'read'), (req, res) => {
    const id = deviceId(req.params);
    res.json({ commands: d.store.commands.listForDevice(id, queryInt(req.query, 'limit', 50, 1, 500)) });
  });
  return r;
}

export function commandsRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router();
  r.get('/:id', limits.route('commands.show'), requireScope(d.operator, limits, 'read'), (req, res) => {
    const id = req.params.id;
    const row = typeof id === 'string' && isToken(id, 1, 64) ? d.store.commands.get(id) : undefined;
    if (!row) throw new GatewayError('NOT_FOUND', 'no such command');
    res.json(row);
  });
  return r;
}
