/** Online at the gateway: the REST API shows the provisioned device online, and the device says so too. */
import assert from 'node:assert/strict';
import { defineSuite } from '@kiln/test';

export default defineSuite('online at the gateway', ({ test }) => {
  test('the gateway reports the device online', async ({ dut, gateway, provisioned }) => {
    const { deviceId } = await provisioned();
    const d = await gateway.waitForOnline(deviceId);
    assert.equal(d.online, true);
    await dut.write('status');
    await dut.expect(/state=online\b.*gateway=up/, { timeout: 10_000 });
  });
});
