/**
 * Commands, MQTT → gateway → device → result on kiln/v1/<id>/cmd/<cid>/result: the
 * firmware's built-in commands (ping, telemetry_now, reboot) answer `ok`; a name the
 * firmware does not know answers `unsupported` (SPEC §1.3 command_result), never silence.
 */
import assert from 'node:assert/strict';
import { defineSuite, expectBoot } from '@kiln/test';

export default defineSuite('commands', ({ test }) => {
  test('ping, telemetry_now and an unknown command each get their result', async ({ dut, gateway, provisioned }) => {
    const { deviceId } = await provisioned();
    await gateway.waitForOnline(deviceId);
    dut.discard();

    const ping = await gateway.sendCommand(deviceId, 'ping');
    assert.equal(ping.status, 'ok', JSON.stringify(ping));
    assert.equal(ping.deviceId, deviceId);
    await dut.expectExact(`kiln: command ping (${ping.id})`, { timeout: 5000 });

    const sample = await gateway.sendCommand(deviceId, 'telemetry_now');
    assert.equal(sample.status, 'ok', JSON.stringify(sample));
    await dut.expectExact(`kiln: command telemetry_now (${sample.id})`, { timeout: 5000 });

    const unknown = await gateway.sendCommand(deviceId, 'no_such_command', { level: 3 });
    assert.equal(unknown.status, 'unsupported', JSON.stringify(unknown));
    assert.equal(unknown.error ?? null, null);
    assert.equal(unknown.result ?? null, null);
  });

  test('reboot: the result comes first, then the device boots again and returns online', async ({
    dut,
    gateway,
    provisioned,
  }) => {
    const { deviceId } = await provisioned();
    const before = await gateway.waitForOnline(deviceId);
    dut.discard();
    const r = await gateway.sendCommand(deviceId, 'reboot');
    assert.equal(r.status, 'ok', JSON.stringify(r));
    await dut.expect(/kiln: rebooting/, { timeout: 5000 });
    const boot = await expectBoot(dut);
    assert.notEqual(boot.bootId, before.bootId, 'the boot id did not change: no reboot');
    assert.equal(boot.deviceId, deviceId);
    await gateway.waitForDevice(deviceId, (d) => d.online && d.bootId === boot.bootId, {
      what: `online with the new boot ${boot.bootId}`,
    });
  });
});
