/**
 * Commands, MQTT → gateway → device → result on kiln/v1/<id>/cmd/<cid>/result: the
 * firmware's built-in commands (ping, telemetry_now, reboot, identify) answer `ok`; a name the
 * firmware does not know answers `unsupported` (SPEC §1.3 command_result), never silence; bad
 * identify args answer `error`. The telemetry interval is set over REST (PUT …/config, SPEC §4.4)
 * and the device's samples follow the new cadence.
 */
import assert from 'node:assert/strict';
import { type BenchGateway, defineSuite, expectBoot, type TelemetryMessage } from '@kiln/test';

/** The next `count` samples of the device on MQTT whose device timestamp is after `after`, in order. */
async function samplesAfter(
  gateway: BenchGateway,
  deviceId: string,
  after: number,
  count: number,
): Promise<TelemetryMessage[]> {
  const out: TelemetryMessage[] = [];
  let since = after;
  for (let i = 0; i < count; i++) {
    const m = await gateway.waitForTelemetry(deviceId, (s) => s.ts > since, { timeout: 15_000 });
    out.push(m);
    since = m.ts;
  }
  return out;
}

const gaps = (samples: TelemetryMessage[]) =>
  samples.slice(1).map((s, i) => s.ts - (samples[i] as TelemetryMessage).ts);

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

  test('identify: the device blinks (logs) for the seconds asked, 10 by default; bad args are an error', async ({
    dut,
    gateway,
    provisioned,
  }) => {
    const { deviceId } = await provisioned();
    await gateway.waitForOnline(deviceId);
    dut.discard();

    const three = await gateway.sendCommand(deviceId, 'identify', { seconds: 3 });
    assert.equal(three.status, 'ok', JSON.stringify(three));
    assert.deepEqual(three.result, { seconds: 3 });
    await dut.expectExact(`kiln: command identify (${three.id})`, { timeout: 5000 });
    await dut.expectExact('kiln: identify: blinking for 3 s', { timeout: 5000 });

    const byDefault = await gateway.sendCommand(deviceId, 'identify');
    assert.equal(byDefault.status, 'ok', JSON.stringify(byDefault));
    assert.deepEqual(byDefault.result, { seconds: 10 });
    await dut.expectExact('kiln: identify: blinking for 10 s', { timeout: 5000 });

    for (const args of [{ seconds: 0 }, { seconds: 61 }, { seconds: 'five' }, { secs: 5 }]) {
      const bad = await gateway.sendCommand(deviceId, 'identify', args);
      assert.equal(bad.status, 'error', `${JSON.stringify(args)}: ${JSON.stringify(bad)}`);
      assert.match(String(bad.error), /^identify.*seconds/, JSON.stringify(bad));
      assert.equal(bad.result ?? null, null);
    }
  });

  test('set the telemetry interval over REST: the device gets config at once and samples follow the new cadence', async ({
    dut,
    gateway,
    provisioned,
  }) => {
    const { deviceId } = await provisioned();
    await gateway.waitForOnline(deviceId);
    await gateway.watch();
    const path = `/api/v1/devices/${encodeURIComponent(deviceId)}/config`;
    try {
      for (const seconds of [2, 1]) {
        dut.discard();
        const put = await gateway.admin.json<{ telemetrySec: number; delivered: boolean }>('PUT', path, {
          telemetrySec: seconds,
        });
        assert.deepEqual([put.telemetrySec, put.delivered], [seconds, true], JSON.stringify(put));
        await dut.expect(new RegExp(`kiln: config: telemetry every ${seconds * 1000} ms`), { timeout: 5000 });
        const shown = await gateway.admin.json<{ config: { telemetrySec: number } }>(
          'GET',
          `/api/v1/devices/${encodeURIComponent(deviceId)}`,
        );
        assert.equal(shown.config.telemetrySec, seconds);
        // Samples taken after the change (device clock, ms): the gaps are the new interval.
        const samples = await samplesAfter(gateway, deviceId, Date.now(), 3);
        for (const gap of gaps(samples))
          assert.ok(
            Math.abs(gap - seconds * 1000) <= 400,
            `telemetry every ${seconds} s asked, sample gaps ${gaps(samples).join(', ')} ms`,
          );
      }
    } finally {
      // Back to the gateway's default, so later suites see the bench as it was.
      await gateway.admin.json('PUT', path, { telemetrySec: null });
    }
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
