/**
 * Revocation: revoked over REST, the device's session is closed (4003), the device says
 * so on its console and stops, also across a reset (the revocation is kept in NVS).
 * Pointed at the gateway again (a provisioning write clears the device's own flag), its
 * handshakes are refused: the gateway counts them as DEVICE_REVOKED auth failures.
 * Afterwards the DUT is re-provisioned with a new key (rotation re-enables a revoked
 * device), so later suites find it online.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcClient } from '@kiln/provisioning';
import { defineSuite, expectBoot } from '@kiln/test';

const REFUSED = ['kiln_device_auth_failures_total', { reason: 'DEVICE_REVOKED' }] as const;

export default defineSuite('revoked device', ({ test }) => {
  test('is cut off, says so, stays off, and its handshakes are refused', async ({ dut, gateway, provisioned }) => {
    const { deviceId } = await provisioned();
    await gateway.waitForOnline(deviceId);
    await gateway.watch();
    dut.discard();
    let passed = false;
    try {
      const revoked = await gateway.revoke(deviceId);
      assert.equal(revoked.state, 'revoked');
      await dut.expect(
        /kiln: gateway revoked this device \(close 4003\): stopped, not reconnecting until re-provisioned/,
      );
      await dut.expect(/kiln: state error, reason revoked/);
      await gateway.waitForStatus(deviceId, (s) => s.state === 'revoked');
      const shown = await gateway.device(deviceId);
      assert.equal(shown?.online, false, 'the gateway still shows the device online');

      // The device does not try again (its backoff is at most 1 s here), not even after a reset.
      await dut.notExpect(/kiln: connecting to /, { timeout: 2000 });
      await dut.reset();
      const boot = await expectBoot(dut);
      assert.equal(boot.deviceId, deviceId);
      await dut.expect(/kiln: state error, reason revoked/);
      await dut.notExpect(/kiln: connecting to /, { timeout: 2000 });

      // Re-pointed at the gateway without being re-enabled there: refused at the handshake.
      const refusedBefore = await gateway.metric(...REFUSED);
      await new RpcClient(dut.serial()).setGateway(gateway.deviceUrl);
      await dut.expect(/kiln: connecting to /);
      await dut.expect(/kiln: gateway connection failed \(code -?\d+/);
      const until = Date.now() + 10_000;
      while ((await gateway.metric(...REFUSED)) <= refusedBefore) {
        assert.ok(Date.now() < until, 'the gateway did not count a refused handshake (DEVICE_REVOKED)');
        await sleep(200);
      }
      const after = await gateway.device(deviceId);
      assert.equal(after?.state, 'revoked');
      assert.equal(after?.online, false);
      passed = true;
    } finally {
      // Later suites need the DUT: a new key, the enrolment rotated to it, online again.
      const restored = dut.provision({ rotateKey: true });
      if (passed) {
        const s = await restored;
        assert.equal(s.key, 'rotated');
        assert.equal(s.registration, 'key-rotated');
        assert.equal(s.online, true);
      } else await restored.catch(() => {});
    }
  });
});
