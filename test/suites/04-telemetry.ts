/** Telemetry reaches the gateway and MQTT (the gateway publishes what it stored), with increasing sequence numbers. */
import assert from 'node:assert/strict';
import { defineSuite } from '@kiln/test';

export default defineSuite('telemetry', ({ test }) => {
  test('three samples reach MQTT in order, with increasing seqs, from one boot', async ({ gateway, provisioned }) => {
    const { deviceId } = await provisioned();
    await gateway.watch();
    const first = await gateway.waitForTelemetry(deviceId);
    const second = await gateway.waitForTelemetry(deviceId, (m) => m.bootId === first.bootId && m.seq > first.seq);
    const third = await gateway.waitForTelemetry(deviceId, (m) => m.bootId === first.bootId && m.seq > second.seq);
    assert.ok(first.seq < second.seq && second.seq < third.seq, `seqs ${first.seq}, ${second.seq}, ${third.seq}`);
    const seen = (gateway.telemetry.get(deviceId) ?? []).filter((m) => m.bootId === first.bootId).map((m) => m.seq);
    assert.deepEqual(
      seen,
      [...new Set(seen)].sort((a, b) => a - b),
      `MQTT seqs out of order or duplicated: ${seen}`,
    );
    const d = await gateway.device(deviceId);
    assert.ok(d?.online, 'the gateway no longer reports the device online');
  });
});
