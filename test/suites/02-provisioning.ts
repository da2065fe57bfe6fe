/**
 * Provisioning: Improv Wi-Fi, a key made on the device, registration, online — once per
 * run (the fixture); and a wrong Wi-Fi password, which Improv must refuse without
 * leaving the device stuck.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ImprovClient } from '@kiln/provisioning';
import { defineSuite } from '@kiln/test';

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export default defineSuite('provisioning', ({ test }) => {
  test('provisions Wi-Fi, key and gateway, and the device comes online', async ({ dut, provisioned }) => {
    const s = await provisioned();
    assert.equal(s.online, true, 'the device did not come online');
    assert.equal(s.deviceId, dut.deviceId);
    assert.ok(['generated', 'kept'].includes(s.key), `key: ${s.key}`);
    assert.ok(['registered', 'already-registered'].includes(s.registration), `registration: ${s.registration}`);
  });

  test('a wrong Wi-Fi password: Improv says "unable to connect", the device stays provisionable, the right one works', async ({
    dut,
    bench,
    gateway,
  }) => {
    const { ssid } = bench.bench.wifi;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    dut.discard();
    const failed = await dut.provision({ psk: wrong }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    assert.ok(failed, `provisioning with a wrong password for "${ssid}" succeeded`);
    assert.equal(failed.code, 'improv-unable-to-connect', failed.message);
    assert.match(failed.message, /the device reports "unable to connect"/);
    await dut.expect(
      new RegExp(`kiln: Wi-Fi could not connect to "${escapeRegex(ssid)}": reason \\d+ \\(wifi_auth_failed\\)`),
    );
    assert.ok(!dut.tail(500).some((l) => l.includes(wrong)), 'the device printed the Wi-Fi password');

    // Still provisionable: Improv answers with a state that accepts Wi-Fi settings, and
    // the same device takes the right password and comes online.
    const state = await new ImprovClient(dut.serial()).currentState(5000);
    assert.ok(['ready', 'provisioned'].includes(state.name), `Improv state after the failure: ${state.name}`);
    const s = await dut.provision();
    assert.equal(s.online, true, 'the device did not come online with the right password');
    const d = await gateway.waitForOnline(s.deviceId);
    assert.equal(d.state, 'online');
  });
});
