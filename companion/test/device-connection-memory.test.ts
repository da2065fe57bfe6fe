/**
 * What a live device connection keeps. At 10,000 devices every retained byte per connection
 * is 10 MB of heap that each major collection marks again; the handshake's request (its
 * headers carry the device's token) must not be among it. Nor may a handled message outlive
 * minor collections (receiver-fragments.test.ts says why).
 */

import type { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceEndpoint } from '../src/device/endpoint.ts';
import { registerDevice, startTestGateway, TestDevice } from './helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: Awaited<ReturnType<typeof startTestGateway>>;
const requests: WeakRef<IncomingMessage>[] = [];
const original = DeviceEndpoint.prototype.handleUpgrade;

beforeAll(async () => {
  // Watch each upgrade request without holding it (a WeakRef, made outside any closure that lives on).
  DeviceEndpoint.prototype.handleUpgrade = function (this: DeviceEndpoint, req, socket, head) {
    requests.push(new WeakRef(req));
    return original.call(this, req, socket, head);
  };
  t = await startTestGateway();
});
afterAll(async () => {
  DeviceEndpoint.prototype.handleUpgrade = original;
  await t?.stop();
});

async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
}

describe('a live device connection', () => {
  it('does not keep its handshake request (nor the token in it) once upgraded', async () => {
    const keys = await registerDevice(t.gw, 'dev-mem');
    const d = await TestDevice.connect(t.gw, t.ca, 'dev-mem', keys.priv);
    d.hello('dev-mem');
    await d.next('welcome');
    d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 20 } });
    await d.next('ack');
    await collect();
    expect(requests).toHaveLength(1);
    expect(t.gw.sessions.size).toBe(1); // still connected …
    expect(requests[0]?.deref()).toBeUndefined(); // … and its request is gone
    // The connection still works after the collection.
    d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 21 } });
    expect((await d.next('ack')).acked).toEqual([2]);
    d.close();
  });

  it('empties the array ws took each message from, and keeps it for the next (src/device/receiver-fragments.ts)', async () => {
    const keys = await registerDevice(t.gw, 'dev-frag');
    const d = await TestDevice.connect(t.gw, t.ca, 'dev-frag', keys.priv);
    d.hello('dev-frag');
    await d.next('welcome');
    // ws' private state, read here only: the array the next message will be pushed into.
    const session = t.gw.sessions.get('dev-frag');
    if (!session) throw new Error('no session for dev-frag');
    const receiver = (session.ws as unknown as { _receiver: { _fragments: unknown[] } })._receiver;
    const next = receiver._fragments;
    d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 20 } });
    await d.next('ack');
    // The array ws read the message from holds nothing now, and it is the one the next
    // message goes into (a fresh array per message would itself be promoted, 32 bytes each).
    expect(next).toHaveLength(0);
    expect(receiver._fragments).toBe(next);
    d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 21 } });
    expect((await d.next('ack')).acked).toEqual([2]);
    expect(receiver._fragments).toBe(next);
    expect(next).toHaveLength(0);
    d.close();
  });
});
