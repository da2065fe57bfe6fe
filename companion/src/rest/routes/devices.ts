/**
 * /api/v1/devices: register, list (search, filters, keyset paging), show, revoke, rotate key,
 * per-device configuration, delete. Every change is audited. The list is one SQL query per page plus one count; online
 * comes from the stored state and this instance's live sessions (a map lookup).
 */
import { CHIPS, CloseCode, isDeviceId } from '@kiln/protocol';
import { type Request, type Response, Router } from 'express';
import { importJWK, type JWK } from 'jose';
import { effectiveConfig, sendConfig } from '../../device/device-config.ts';
import { GatewayError } from '../../errors.ts';
import type { ApiKeyRow } from '../../store/api-keys.ts';
import type { DeviceConfig, DeviceRow } from '../../store/devices.ts';
import { checkBody, queryInt, queryString } from '../body.ts';
import type { RestDeps } from '../deps.ts';
import { keyOf, type RestLimits, requireScope } from '../middleware.ts';

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const STATES = ['registered', 'online', 'offline', 'revoked'] as const;

/** A P-256 public JWK that imports (so it is on the curve); private parts are refused. */
export async function checkPublicJwk(v: unknown): Promise<JWK> {
  const jwk = checkBody<{ kty: string; crv: string; x: string; y: string }>(v, {
    kty: { kind: 'string', max: 2, oneOf: ['EC'] },
    crv: { kind: 'string', max: 5, oneOf: ['P-256'] },
    x: { kind: 'string', max: 43, pattern: B64URL_32 },
    y: { kind: 'string', max: 43, pattern: B64URL_32 },
    alg: { kind: 'string', max: 5, oneOf: ['ES256'], optional: true },
    use: { kind: 'string', max: 3, oneOf: ['sig'], optional: true },
    kid: { kind: 'string', max: 128, optional: true },
  });
  try {
    await importJWK(jwk as JWK, 'ES256');
  } catch {
    throw new GatewayError('VALIDATION_FAILED', 'publicKey: not a P-256 public key');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** `PUT …/config`: each interval optional; null puts it back to the gateway's default. */
function checkConfigBody(body: unknown): Partial<DeviceConfig> {
  // checkBody knows no null: nulls become "absent" for the checks, and are kept as resets.
  const given =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? Object.fromEntries(Object.entries(body).map(([k, v]) => [k, v === null ? undefined : v]))
      : body;
  checkBody(given, {
    telemetrySec: { kind: 'integer', min: 1, max: 86_400, optional: true },
    heartbeatSec: { kind: 'integer', min: 5, max: 3600, optional: true },
  });
  const b = body as Record<string, number | null>;
  if (b.telemetrySec === undefined && b.heartbeatSec === undefined)
    throw new GatewayError('VALIDATION_FAILED', '(body): expected telemetrySec and/or heartbeatSec');
  return {
    ...(b.telemetrySec !== undefined ? { telemetrySec: b.telemetrySec } : {}),
    ...(b.heartbeatSec !== undefined ? { heartbeatSec: b.heartbeatSec } : {}),
  };
}

type Defaults = Parameters<typeof effectiveConfig>[1];

export const view = (d: DeviceRow, online: boolean, defaults: Defaults) => ({
  id: d.id,
  state: d.state,
  online,
  publicKey: d.publicKeyJwk,
  createdAt: d.createdAt,
  lastSeenAt: d.lastSeenAt,
  revokedAt: d.revokedAt,
  keyRotatedAt: d.keyRotatedAt,
  chip: d.chip,
  mac: d.mac,
  firmware: d.firmware,
  bootId: d.bootId,
  rssi: d.rssi,
  rssiAt: d.rssiAt,
  reconnects: Math.max(0, d.sessions - 1),
  /** The intervals in force for the device: its own, else the gateway's defaults. */
  config: effectiveConfig(d.config, defaults),
});

function deviceParam(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !isDeviceId(id)) throw new GatewayError('NOT_FOUND', 'no such device');
  return id;
}

export function devicesRouter(d: RestDeps, limits: RestLimits): Router {
  const r = Router();
  const { store } = d;
  const audit = (req: Request, res: Response, action: string, target: string, detail?: unknown) =>
    store.audit.record({ actor: keyOf(res).id, action, target, detail, ...(req.ip ? { ip: req.ip } : {}) });
  // A session being closed (revoked, say) no longer counts: its close handshake may take a while.
  const online = (row: DeviceRow) => row.state === 'online' || d.sessions.get(row.id)?.online === true;
  const show = (row: DeviceRow, isOnline: boolean) => view(row, isOnline, d.config.limits);
  const get = (id: string) => {
    const row = store.devices.get(id);
    if (!row) throw new GatewayError('NOT_FOUND', `no device ${id}`);
    return row;
  };

  r.post('/', limits.route('devices.register'), requireScope(d.operator, limits, 'enroll'), async (req, res) => {
    const body = checkBody<{ id: string; publicKey: unknown }>(req.body, {
      id: { kind: 'string', min: 3, max: 64, pattern: /^[a-z0-9][a-z0-9_-]{2,63}$/ },
      publicKey: { kind: 'object', maxKeys: 8, maxBytes: 1024 },
    });
    const jwk = await checkPublicJwk(body.publicKey);
    if (store.devices.get(body.id))
      throw new GatewayError('CONFLICT', `device ${body.id} is already registered`, { hint: 'rotate its key instead' });
    const row = store.devices.register(body.id, jwk);
    audit(req, res, 'device.register', body.id);
    res.status(201).json(show(row, false));
  });

  r.get('/', limits.route('devices.list'), requireScope(d.operator, limits, 'read'), (req, res) => {
    const limit = queryInt(req.query, 'limit', 100, 1, 1000);
    const state = queryString(req.query, 'state', new RegExp(`^(${STATES.join('|')})$`)) as
      | DeviceRow['state']
      | undefined;
    const prefix = queryString(req.query, 'prefix', /^[a-z0-9_-]{1,64}$/);
    // `cursor` is the name the dashboard contract uses for `after`.
    const after =
      queryString(req.query, 'after', /^[a-z0-9_-]{1,64}$/) ?? queryString(req.query, 'cursor', /^[a-z0-9_-]{1,64}$/);
    const q = queryString(req.query, 'q', /^[\x20-\x7e]{1,64}$/)?.trim();
    const chip = queryString(req.query, 'chip', new RegExp(`^(${CHIPS.join('|')})$`));
    const filter = {
      ...(state ? { state } : {}),
      ...(prefix ? { prefix } : {}),
      ...(q ? { q } : {}),
      ...(chip ? { chip } : {}),
    };
    const rows = store.devices.list({ ...filter, limit: limit + 1, ...(after ? { after } : {}) });
    const page = rows.slice(0, limit);
    res.json({
      devices: page.map((x) => show(x, online(x))),
      next: rows.length > limit ? page.at(-1)?.id : null,
      total: store.devices.count(filter),
    });
  });

  r.get('/:id', limits.route('devices.show'), requireScope(d.operator, limits, 'read'), (req, res) => {
    const row = get(deviceParam(req));
    res.json(show(row, online(row)));
  });

  // Persisted, then sent at once on a live session here, and published for the instance that
  // holds the session if another one does (SPEC §4.4); an offline device gets it in its next welcome.
  r.put('/:id/config', limits.route('devices.config'), requireScope(d.operator, limits, 'operate'), (req, res) => {
    const id = deviceParam(req);
    const patch = checkConfigBody(req.body);
    if (get(id).state === 'revoked')
      throw new GatewayError('DEVICE_REVOKED', `device ${id} is revoked: its configuration cannot change`, {
        hint: 'an admin re-enables it by rotating its key (kiln devices rotate)',
      });
    store.devices.setConfig(id, patch);
    const config = effectiveConfig(store.devices.configOf(id), d.config.limits);
    const delivered = sendConfig(d.sessions, id, config);
    d.bridge.publishConfig(id, config);
    audit(req, res, 'device.config', id, { ...patch, delivered });
    res.json({ deviceId: id, ...config, delivered });
  });

  r.post('/:id/revoke', limits.route('devices.revoke'), requireScope(d.operator, limits, 'admin'), (req, res) => {
    const id = deviceParam(req);
    get(id);
    store.devices.revoke(id);
    d.deviceAuth.forget(id);
    d.sessions.get(id)?.close(CloseCode.REVOKED, 'device revoked');
    // Other instances close their session too (bridge status listener).
    d.bridge.publishStatus(id, {
      state: 'revoked',
      since: Date.now(),
      lastSeen: store.devices.get(id)?.lastSeenAt ?? null,
    });
    audit(req, res, 'device.revoke', id);
    res.json(show(get(id), false));
  });

  r.post(
    '/:id/rotate-key',
    limits.route('devices.rotate'),
    requireScope(d.operator, limits, 'enroll'),
    async (req, res) => {
      const id = deviceParam(req);
      // Rotating a revoked device's key re-enables it: that undoes a revocation, an admin's call.
      if (get(id).state === 'revoked' && (res.locals.apiKey as ApiKeyRow).scope !== 'admin') {
        throw new GatewayError('FORBIDDEN', `device ${id} is revoked: re-enabling it needs the admin scope`);
      }
      const body = checkBody<{ publicKey: unknown }>(req.body, {
        publicKey: { kind: 'object', maxKeys: 8, maxBytes: 1024 },
      });
      const jwk = await checkPublicJwk(body.publicKey);
      const rotatedAt = Date.now();
      store.devices.rotateKey(id, jwk, rotatedAt);
      d.deviceAuth.forget(id);
      // The old key's session must not outlive the rotation, here or on another instance.
      d.sessions.get(id)?.close(CloseCode.REVOKED, 'device key rotated');
      d.bridge.publishKeyChange(id, 'rotated', rotatedAt);
      audit(req, res, 'device.rotate-key', id);
      res.json(show(get(id), false));
    },
  );

  r.delete('/:id', limits.route('devices.delete'), requireScope(d.operator, limits, 'admin'), (req, res) => {
    const id = deviceParam(req);
    get(id);
    d.sessions.get(id)?.close(CloseCode.REVOKED, 'device deleted');
    d.deviceAuth.forget(id);
    store.devices.delete(id);
    // Other instances end their session too; the retained status goes.
    d.bridge.publishKeyChange(id, 'deleted', Date.now());
    audit(req, res, 'device.delete', id);
    res.status(204).end();
  });

  return r;
}
