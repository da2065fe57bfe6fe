/** The OpenAPI 3.1 document served at /api/v1/openapi.json. A test checks it lists every route. */
import { GATEWAY_ERROR_CODES } from '../errors.ts';

const error = { $ref: '#/components/responses/Error' };
const errs = (...codes: number[]) => Object.fromEntries(codes.map((c) => [String(c), error]));
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const obj = { type: 'object' };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const q = (name: string, schema: object) => ({ name, in: 'query', required: false, schema });
const jwk = {
  type: 'object',
  required: ['kty', 'crv', 'x', 'y'],
  properties: { kty: { const: 'EC' }, crv: { const: 'P-256' }, x: { type: 'string' }, y: { type: 'string' } },
};
const sec = (scope: string) => ({ security: [{ apiKey: [] }, { session: [] }], 'x-kiln-scope': scope });
const sessionBody = json({
  type: 'object',
  required: ['scope', 'csrfToken', 'expiresAt', 'idleTimeoutSec', 'keyId', 'keyName'],
  properties: {
    scope: { enum: ['read', 'operate', 'admin'] },
    csrfToken: { type: 'string', description: 'send as X-CSRF-Token with every cookie request but GET/HEAD' },
    expiresAt: { type: 'integer', description: 'absolute end of the session (ms)' },
    idleTimeoutSec: { type: 'integer' },
    keyId: { type: 'string' },
    keyName: { type: 'string' },
  },
});

export function openApiDocument(version: string): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Kiln gateway',
      version,
      description:
        'Operator API. Bearer API keys with scopes read < operate < admin, or a browser session (cookie kiln_session ' +
        'from POST /api/v1/session; every method but GET/HEAD then needs X-CSRF-Token and an allowed Origin, else 403 CSRF). ' +
        'Live events: WebSocket /api/v1/stream, subprotocol kiln.operator.v1 (protocol/SPEC.md, Operator API).',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: 'kiln_session' },
      },
      responses: {
        Error: json({
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { enum: Object.keys(GATEWAY_ERROR_CODES) },
                message: { type: 'string' },
                hint: { type: 'string' },
              },
            },
          },
        }),
      },
    },
    paths: {
      '/health': { get: { summary: 'Liveness and readiness', responses: { 200: json(obj), 503: json(obj) } } },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          ...sec('read'),
          responses: { 200: { description: 'text/plain' }, ...errs(401, 403, 429) },
        },
      },
      '/api/v1/openapi.json': { get: { summary: 'This document', responses: { 200: json(obj) } } },
      '/api/v1/devices': {
        post: {
          summary: 'Register a device with its public key',
          ...sec('enroll'),
          requestBody: json({
            type: 'object',
            required: ['id', 'publicKey'],
            properties: { id: { type: 'string' }, publicKey: jwk },
          }),
          responses: { 201: json(obj), ...errs(400, 401, 403, 409, 413, 429) },
        },
        get: {
          summary: 'List devices: search, filters, keyset paging ({devices, next, total}, ordered by id)',
          ...sec('read'),
          parameters: [
            q('q', { type: 'string', description: 'substring of the id, MAC or firmware name' }),
            q('state', { enum: ['registered', 'online', 'offline', 'revoked'] }),
            q('chip', { type: 'string' }),
            q('prefix', { type: 'string' }),
            q('after', { type: 'string', description: 'the next of the previous page' }),
            q('cursor', { type: 'string', description: 'same as after' }),
            q('limit', { type: 'integer', minimum: 1, maximum: 1000 }),
          ],
          responses: { 200: json(obj), ...errs(400, 401, 429) },
        },
      },
      '/api/v1/session': {
        post: {
          summary: 'Sign a browser in with an operator API key: sets the HttpOnly session cookie',
          requestBody: json({ type: 'object', required: ['apiKey'], properties: { apiKey: { type: 'string' } } }),
          responses: { 200: sessionBody, ...errs(400, 401, 403, 429) },
        },
        get: {
          summary: 'The current session (after a page reload: its CSRF token)',
          security: [{ session: [] }],
          responses: { 200: sessionBody, ...errs(401, 429) },
        },
        delete: {
          summary: 'Sign out: ends the session and clears the cookie (needs X-CSRF-Token)',
          security: [{ session: [] }],
          responses: { 204: { description: 'signed out' }, ...errs(400, 401, 403, 429) },
        },
      },
      '/api/v1/stream': {
        get: {
          summary:
            'Operator stream: WebSocket upgrade, subprotocol kiln.operator.v1; bearer key or session cookie (+ Origin). ' +
            'Frames: hello, subscribed, telemetry, status, command, dropped, error (protocol/SPEC.md)',
          ...sec('read'),
          responses: {
            101: { description: 'switching protocols' },
            400: { description: 'TOKEN_IN_URL or SUBPROTOCOL_REQUIRED: {"code"}' },
            401: { description: 'UNAUTHENTICATED' },
            403: { description: 'ORIGIN_NOT_ALLOWED' },
            429: { description: 'TOO_MANY_STREAMS or AUTH_RATE_LIMITED' },
            503: { description: 'AT_CAPACITY' },
          },
        },
      },
      '/api/v1/devices/{id}': {
        get: {
          summary: 'Show a device (with config: the telemetry and heartbeat intervals in force)',
          ...sec('read'),
          parameters: [idParam],
          responses: { 200: json(obj), ...errs(401, 404, 429) },
        },
        delete: {
          summary: 'Delete a device and its data',
          ...sec('admin'),
          parameters: [idParam],
          responses: { 204: { description: 'deleted' }, ...errs(401, 403, 404, 429) },
        },
      },
      '/api/v1/devices/{id}/revoke': {
        post: {
          summary: 'Revoke a device (closes its session with 4003)',
          ...sec('admin'),
          parameters: [idParam],
          responses: { 200: json(obj), ...errs(401, 403, 404, 429) },
        },
      },
      '/api/v1/devices/{id}/rotate-key': {
        post: {
          summary: 'Replace the device key (re-enabling a revoked device needs admin)',
          ...sec('enroll'),
          parameters: [idParam],
          requestBody: json({ type: 'object', required: ['publicKey'], properties: { publicKey: jwk } }),
          responses: { 200: json(obj), ...errs(400, 401, 403, 404, 429) },
        },
      },
      '/api/v1/devices/{id}/config': {
        put: {
          summary:
            "Set the device's telemetry and heartbeat intervals (null: back to the gateway default). Sent to a " +
            'live session at once as a kiln.v1 config message (delivered: true), otherwise in its next welcome',
          ...sec('operate'),
          parameters: [idParam],
          requestBody: json({
            type: 'object',
            minProperties: 1,
            additionalProperties: false,
            properties: {
              telemetrySec: { type: ['integer', 'null'], minimum: 1, maximum: 86_400 },
              heartbeatSec: { type: ['integer', 'null'], minimum: 5, maximum: 3600 },
            },
          }),
          responses: {
            200: json({
              type: 'object',
              required: ['deviceId', 'telemetrySec', 'heartbeatSec', 'delivered'],
              properties: {
                deviceId: { type: 'string' },
                telemetrySec: {
                  type: 'integer',
                  description: "in force now: the device's own value, else the gateway default",
                },
                heartbeatSec: {
                  type: 'integer',
                  description: "in force now: the device's own value, else the gateway default",
                },
                delivered: { type: 'boolean', description: 'sent to a live session of this gateway instance now' },
              },
            }),
            ...errs(400, 401, 403, 404, 409, 429),
          },
        },
      },
      '/api/v1/devices/{id}/telemetry': {
        get: {
          summary: 'Query telemetry: raw, downsampled (bucket, seconds) or from rollups',
          ...sec('read'),
          parameters: [
            idParam,
            q('from', { type: 'integer' }),
            q('to', { type: 'integer' }),
            q('metric', { type: 'string' }),
            q('bucket', { type: 'integer' }),
            q('source', { enum: ['raw', 'rollup'] }),
            q('limit', { type: 'integer' }),
          ],
          responses: { 200: json(obj), ...errs(400, 401, 404, 429) },
        },
      },
      '/api/v1/devices/{id}/commands': {
        post: {
          summary: 'Send a command',
          ...sec('operate'),
          parameters: [idParam],
          requestBody: json({
            type: 'object',
            required: ['name'],
            properties: { name: { type: 'string' }, args: obj, ttlSec: { type: 'integer' } },
          }),
          responses: { 202: json(obj), ...errs(400, 401, 403, 404, 409, 429) },
        },
        get: {
          summary: 'Recent commands of a device',
          ...sec('read'),
          parameters: [idParam, q('limit', { type: 'integer' })],
          responses: { 200: json(obj), ...errs(401, 404, 429) },
        },
      },
      '/api/v1/commands/{id}': {
        get: {
          summary: 'Command status and result',
          ...sec('read'),
          parameters: [idParam],
          responses: { 200: json(obj), ...errs(401, 404, 429) },
        },
      },
      '/api/v1/api-keys': {
        post: {
          summary: 'Create an API key (shown once)',
          ...sec('admin'),
          requestBody: json({
            type: 'object',
            required: ['name', 'scope'],
            properties: { name: { type: 'string' }, scope: { enum: ['read', 'enroll', 'operate', 'admin'] } },
          }),
          responses: { 201: json(obj), ...errs(400, 401, 403, 429) },
        },
        get: {
          summary: 'List API keys (never the keys themselves)',
          ...sec('admin'),
          responses: { 200: json(obj), ...errs(401, 403, 429) },
        },
      },
      '/api/v1/api-keys/{id}': {
        delete: {
          summary: 'Revoke an API key',
          ...sec('admin'),
          parameters: [idParam],
          responses: { 204: { description: 'revoked' }, ...errs(401, 403, 404, 429) },
        },
      },
      '/api/v1/audit': {
        get: {
          summary: 'The audit log, newest first',
          ...sec('admin'),
          parameters: [q('limit', { type: 'integer' }), q('before', { type: 'integer' })],
          responses: { 200: json(obj), ...errs(401, 403, 429) },
        },
      },
    },
  };
}
