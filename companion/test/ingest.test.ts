/**
 * Ingest's commit cycle (device/ingest.ts): the next commit goes to the writer's thread as soon
 * as one returns, before that one's acks go out, so the writer never waits for the event loop.
 * The writer and the gateway are the real ones; the first commit is only held back a while
 * after it is stored, so that a sample can arrive meanwhile.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SampleColumns } from '../src/store/telemetry.ts';
import type { TelemetryWriter } from '../src/store/telemetry-writer.ts';
import { onlineDevice, startTestGateway, type TestDevice } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
const devices: TestDevice[] = [];
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  for (const d of devices) d.close();
  await t?.stop();
});

async function online(id: string): Promise<TestDevice> {
  const d = await onlineDevice(t.gw, t.ca, id);
  devices.push(d);
  return d;
}

it('sends the next commit to the writer before the acks of the one that returned', async () => {
  const a = await online('ingest-a');
  const b = await online('ingest-b');
  const events: string[] = [];
  const writer = (t.gw.ingest as unknown as { writer: TelemetryWriter }).writer;
  const write = writer.write.bind(writer);
  let release = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let commits = 0;
  writer.write = async (rows: SampleColumns, now?: number) => {
    const n = ++commits;
    events.push(`commit ${n}: ${rows.deviceIds.join(',')}`);
    const fresh = await write(rows, now);
    if (n === 1) await held;
    return fresh;
  };
  for (const id of ['ingest-a', 'ingest-b']) {
    const s = t.gw.sessions.get(id);
    if (!s) throw new Error(`no session for ${id}`);
    const sendAck = s.sendAck.bind(s);
    s.sendAck = (seqs) => {
      events.push(`ack ${id}`);
      return sendAck(seqs);
    };
  }
  a.send({ type: 'telemetry', ts: 1, metrics: { temp: 1 } });
  await expect.poll(() => events).toEqual(['commit 1: ingest-a']);
  b.send({ type: 'telemetry', ts: 2, metrics: { temp: 2 } });
  await expect.poll(() => t.gw.ingest.queued).toBe(2);
  release();
  await a.next('ack');
  await b.next('ack');
  expect(events).toEqual(['commit 1: ingest-a', 'commit 2: ingest-b', 'ack ingest-a', 'ack ingest-b']);
  expect(t.gw.store.telemetry.count()).toBe(2);
});
