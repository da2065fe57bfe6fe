/**
 * A reset while the device is sending telemetry (EN pulled low by the bench's reset
 * method): it boots again with a new boot id and the same identity, comes back online
 * on its own, and its telemetry goes on under the new boot id.
 */
import assert from 'node:assert/strict';
import { defineSuite, expectBoot } from '@kiln/test';

export default defineSuite('reset during operation', ({ test }) => {
  test('boots with a new boot id, returns online, telemetry continues under the new boot', async ({
    dut,
    gateway,
    provisioned,
  }) => {
    const { deviceId } = await provisioned();
    await gateway.waitForOnline(deviceId);
    await gateway.watch();
    // Telemetry is flowing: a sample arrives now.
    const last = await gateway.waitForTelemetry(deviceId, () => true, { fresh: true });

    await dut.reset();
    const boot = await expectBoot(dut);
    assert.notEqual(boot.bootId, last.bootId, 'the boot id did not change');
    assert.equal(boot.deviceId, deviceId, 'the device lost its identity in the reset');
    await dut.expect(/kiln: state online/);
    const shown = await gateway.waitForDevice(deviceId, (d) => d.online && d.bootId === boot.bootId, {
      what: `online with the new boot ${boot.bootId}`,
    });
    assert.equal(shown.state, 'online');

    const first = await gateway.waitForTelemetry(deviceId, (m) => m.bootId === boot.bootId);
    const next = await gateway.waitForTelemetry(deviceId, (m) => m.bootId === boot.bootId && m.seq > first.seq);
    assert.ok(next.ts >= first.ts, `timestamps went back: ${first.ts} then ${next.ts}`);
    const stored = (await gateway.storedTelemetry(deviceId)).filter((r) => r.bootId === boot.bootId);
    assert.ok(stored.some((r) => r.seq === first.seq) && stored.some((r) => r.seq === next.seq), 'not stored');
  });
});
