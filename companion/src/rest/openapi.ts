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
const sec = (scope: string) => ({ security: [{ apiKey: [] }], 'x-kiln-scope': scope });

export function openApiDocument(version: string): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Kiln gateway',
      version,
      description: 'Operator API. Bearer API keys with scopes read < operate < admin.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
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
          summary: 'List devices (keyset paging)',
          ...sec('read'),
          parameters: [
            q('state', { enum: ['registered', 'online', 'offline', 'revoked'] }),
            q('prefix', { type: 'string' }),
            q('after', { type: 'string' }),
            q('limit', { type: 'integer' }),
          ],
          responses: { 200: json(obj), ...errs(400, 401, 429) },
        },
      },
      '/api/v1/devices/{id}': {
        get: {
          summary: 'Show a device',
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
