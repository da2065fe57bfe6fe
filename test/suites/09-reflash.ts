/**
 * Re-flash and re-provision: the bench's build written again (every region, not skipped
 * as unchanged), the device boots it with its settings and key intact (flashing an app
 * leaves the NVS partition alone), and provisioning it again keeps the key and finds it
 * already enrolled: same device id, one enrolment for its MAC, online again.
 */
import assert from 'node:assert/strict';
import { jwkThumbprint } from '@kiln/provisioning';
import { defineSuite, expectBoot } from '@kiln/test';

export default defineSuite('re-flash and re-provision', ({ test }) => {
  test('same device id and key, no second enrolment, online again', async ({ dut, bench, gateway, provisioned }) => {
    const { deviceId } = await provisioned();
    const flashed = await dut.flash(bench.spec(dut).firmware, { noSkip: true });
    const names = flashed.regions.map((r) => r.name);
    assert.ok(names.includes('app') && names.includes('bootloader'), `regions: ${names}`);
    assert.deepEqual(
      flashed.regions.filter((r) => r.skipped).map((r) => r.name),
      [],
      'regions skipped instead of written',
    );
    const boot = await expectBoot(dut);
    assert.equal(boot.deviceId, deviceId, 'the device id did not survive flashing the app');

    const again = await dut.provision();
    assert.equal(again.deviceId, deviceId);
    assert.equal(again.key, 'kept');
    assert.equal(again.registration, 'already-registered');
    assert.equal(again.online, true);

    const view = await gateway.waitForDevice(deviceId, (d) => d.online && d.bootId === boot.bootId, {
      what: `online with the boot of the new flash (${boot.bootId})`,
    });
    assert.equal(jwkThumbprint(view.publicKey), again.keyThumbprint, 'the gateway holds another key');
    const sameBoard = (await gateway.devices()).filter((d) => d.mac === again.mac).map((d) => d.id);
    assert.deepEqual(sameBoard, [deviceId], `devices enrolled for MAC ${again.mac}`);
  });
});
