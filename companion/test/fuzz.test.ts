/**
 * Property/fuzz tests over the WS message path and the REST bodies: arbitrary input never
 * crashes the gateway, never leaves an unhandled rejection, and every reply is a documented
 * one (a valid kiln.v1 gateway message / a documented close code; a JSON error with a code
 * from GATEWAY_ERROR_CODES and its status). KILN_FUZZ_RUNS sets the cases per target
 * (default 10,000 each; a few seconds each on 2 cores).
 */
import { Agent, request } from 'node:http';
import { CloseCode, ERROR_CODES, validateValue } from '@kiln/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ERROR_CODES } from '../src/errors.ts';
import { registerDevice, startTestGateway, TestDevice } from './helpers.ts';

const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 10_000);
let t: Awaited<ReturnType<typeof startTestGateway>>;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  t = await startTestGateway({
    insecureDev: true, // the REST and message logic are the same; plain HTTP keeps 10k requests fast
    limits: {
      messagesPerSecPerDevice: 1_000_000,
      bytesPerSecPerDevice: 1_000_000_000,
      restRequestsPerMinPerIp: 1_000_000,
      restRequestsPerMinPerRoute: 1_000_000,
      authFailuresPerMinPerIp: 1_000_000,
    },
  });
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await t?.stop();
});

const metric = fc.stringMatching(/^[a-z][a-z0-9_.]{0,8}$/);
const anyValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);
const types = fc.constantFrom(
  'hello',
  'telemetry',
  'telemetry_batch',
  'command_result',
  'heartbeat',
  'error',
  'ack',
  'welcome',
  'command',
  'config',
  'nope',
);
const sample = fc.record({
  seq: fc.oneof(fc.nat(100_000), anyValue),
  ts: fc.oneof(fc.nat(), anyValue),
  metrics: fc.oneof(fc.dictionary(metric, fc.double({ noNaN: true }), { maxKeys: 4 }), anyValue),
});
const structured = fc
  .record(
    {
      type: fc.oneof(types, anyValue),
      seq: fc.oneof(fc.nat(4_294_967_295), anyValue),
      ts: fc.oneof(fc.nat(), anyValue),
      metrics: fc.oneof(fc.dictionary(metric, fc.double(), { maxKeys: 40 }), anyValue),
      samples: fc.oneof(fc.array(sample, { maxLength: 70 }), anyValue),
      id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/), anyValue),
      status: fc.oneof(fc.constantFrom('ok', 'error', 'unsupported', 'expired'), anyValue),
      deviceId: fc.oneof(fc.constant('fz-dev'), anyValue),
      extra: anyValue,
    },
    { requiredKeys: ['type'] },
  )
  .map((o) => JSON.stringify(o));
const frame = fc.oneof(
  { weight: 6, arbitrary: structured },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
);

const CLOSE_CODES = new Set<number>(Object.values(CloseCode));

describe('fuzz: the WS message path', () => {
  it(`answers ${RUNS} arbitrary frames only with documented messages and close codes`, async () => {
    const keys = await registerDevice(t.gw, 'fz-dev');
    const frames = fc.sample(frame, { numRuns: RUNS, seed: 42 });
    let d: TestDevice | undefined;
    let replies = 0;
    const check = (dev: TestDevice) => {
      for (const m of dev.inbox.splice(0)) {
        replies++;
        const v = validateValue(m, 'gateway');
        expect(v.ok, JSON.stringify(m)).toBe(true);
        if (m.type === 'error') expect(ERROR_CODES).toContain(m.code);
      }
    };
    const open = async () => {
      const dev = await TestDevice.connect(t.gw, t.ca, 'fz-dev', keys.priv);
      dev.hello('fz-dev', 'f0f0f0f0');
      await dev.next('welcome');
      return dev;
    };
    for (let i = 0; i < frames.length; i++) {
      if (!d || d.closeCode !== undefined) {
        if (d) {
          check(d);
          expect(CLOSE_CODES.has(d.closeCode as number), `close ${d.closeCode}`).toBe(true);
        }
        d = await open();
      }
      const f = frames[i] as string | Buffer;
      d.ws.send(f, { binary: Buffer.isBuffer(f) });
      // Keep the pipe shallow so that a close is attributed to the frame that caused it.
      if (i % 50 === 49) {
        d.send({ type: 'heartbeat' });
        await d.next('heartbeat').catch(() => undefined);
        check(d);
      }
    }
    if (d) {
      check(d);
      d.close();
    }
    expect(replies).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
    expect(t.gw.store.integrity()).toEqual(['ok']);
  }, 120_000);
});

describe('fuzz: the REST bodies', () => {
  it(`answers ${RUNS} arbitrary bodies with a 2xx or a documented JSON error`, async () => {
    const admin = t.gw.store.apiKeys.create('fz', 'admin').key;
    await registerDevice(t.gw, 'fz-rest');
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const routes = [
      ['POST', '/api/v1/devices'],
      ['POST', '/api/v1/devices/fz-rest/rotate-key'],
      ['POST', '/api/v1/devices/fz-rest/commands'],
      ['POST', '/api/v1/api-keys'],
      ['POST', '/api/v1/devices/fz-rest/revoke'],
      ['GET', '/api/v1/devices/fz-rest/telemetry'],
      ['GET', '/api/v1/devices'],
    ] as const;
    const body = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc
        .record(
          {
            id: anyValue,
            publicKey: fc.oneof(anyValue, fc.record({ kty: anyValue, crv: anyValue, x: anyValue, y: anyValue })),
            name: fc.oneof(fc.string({ maxLength: 40 }), anyValue),
            args: anyValue,
            ttlSec: anyValue,
            scope: fc.oneof(fc.constantFrom('read', 'operate', 'admin'), anyValue),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
      fc.string({ maxLength: 100 }),
    );
    const query = fc.dictionary(
      fc.constantFrom('from', 'to', 'metric', 'bucket', 'limit', 'state', 'prefix', 'after', 'source', 'x'),
      fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)),
      { maxKeys: 4 },
    );
    const cases = fc.sample(fc.tuple(fc.nat(routes.length - 1), body, query, fc.boolean()), { numRuns: RUNS, seed: 7 });
    const send = (method: string, path: string, data: string | undefined, ctype: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
        if (data !== undefined) {
          headers['content-type'] = ctype;
          headers['content-length'] = String(Buffer.byteLength(data));
        }
        const req = request(new URL(path, t.gw.baseUrl), { method, headers, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        if (data !== undefined) req.write(data);
        req.end();
      });
    const statuses = new Map<number, number>();
    for (let i = 0; i < cases.length; i += 16) {
      await Promise.all(
        cases.slice(i, i + 16).map(async ([r, b, q, json]) => {
          const [method, path] = routes[r] as readonly [string, string];
          const qs = new URLSearchParams(q).toString();
          const res = await send(
            method,
            `${path}${qs ? `?${qs}` : ''}`,
            method === 'POST' ? b : undefined,
            json ? 'application/json' : 'text/plain',
          );
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 200 && res.status < 300) return;
          const e = JSON.parse(res.text) as { error: { code: keyof typeof GATEWAY_ERROR_CODES } };
          expect(Object.keys(GATEWAY_ERROR_CODES), res.text).toContain(e.error.code);
          expect(GATEWAY_ERROR_CODES[e.error.code]).toBe(res.status);
          expect(res.status).not.toBe(500);
        }),
      );
    }
    agent.destroy();
    expect(unhandled).toEqual([]);
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
  }, 120_000);
});
