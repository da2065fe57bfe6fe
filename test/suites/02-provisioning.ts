/** Provisioning: Improv Wi-Fi, a key made on the device, registration, online — once per run (the fixture). */
import assert from 'node:assert/strict';
import { defineSuite } from '@kiln/test';

export default defineSuite('provisioning', ({ test }) => {
  test('provisions Wi-Fi, key and gateway, and the device comes online', async ({ dut, provisioned }) => {
    const s = await provisioned();
    assert.equal(s.online, true, 'the device did not come online');
    assert.equal(s.deviceId, dut.deviceId);
    assert.ok(['generated', 'kept'].includes(s.key), `key: ${s.key}`);
    assert.ok(['registered', 'already-registered'].includes(s.registration), `registration: ${s.registration}`);
  });
});
