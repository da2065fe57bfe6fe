import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDevice, startTestGateway, TestDevice, tempDir } from './helpers.ts';
import { kilnAgainst } from './operator-helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let operator: string;
let reader: string;
let device: TestDevice;
const home = tempDir('kiln-cli-config-');

/** Runs kiln against the test gateway with an operator key (or `key`). */
const kiln = (args: string[], key = operator) => kilnAgainst(t.gw, home.dir, key, args);

beforeAll(async () => {
  t = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 10_000, authFailuresPerMinPerIp: 10_000 } });
  operator = t.gw.store.apiKeys.create('ops', 'operate').key;
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
  const keys = await registerDevice(t.gw, 'cli-cfg');
  await registerDevice(t.gw, 'cli-cfg-off');
  device = await TestDevice.connect(t.gw, t.ca, 'cli-cfg', keys.priv);
  device.hello('cli-cfg');
  await device.next('welcome');
});
afterAll(async () => {
  device?.close();
  await t?.stop();
  home.remove();
});

describe('kiln devices config', () => {
  it('sets the intervals of a live device, which gets a config message at once', async () => {
    const r = await kiln(['devices', 'config', 'cli-cfg', '--telemetry-sec', '30', '--heartbeat-sec', '90']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('cli-cfg: telemetry every 30 s, heartbeat every 90 s (sent to the device now)\n');
    expect(await device.next('config')).toMatchObject({ telemetrySec: 30, heartbeatSec: 90 });

    const json = await kiln(['devices', 'config', 'cli-cfg', '--telemetry-sec', 'default', '--json']);
    expect(json.code, json.err).toBe(0);
    expect(JSON.parse(json.out)).toEqual({
      deviceId: 'cli-cfg',
      telemetrySec: t.gw.config.limits.telemetrySec,
      heartbeatSec: 90,
      delivered: true,
    });
    expect(await device.next('config')).toMatchObject({ telemetrySec: t.gw.config.limits.telemetrySec });

    const shown = await kiln(['devices', 'show', 'cli-cfg']);
    expect(shown.out).toMatch(/^heartbeat: +every 90 s$/m);
  });

  it('says an offline device gets them when it next connects', async () => {
    const r = await kiln(['devices', 'config', 'cli-cfg-off', '--heartbeat-sec', '300']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('heartbeat every 300 s (applied when it next connects)');
    expect(t.gw.store.devices.configOf('cli-cfg-off')).toEqual({ telemetrySec: null, heartbeatSec: 300 });
  });

  it('refuses bad input before asking the gateway (exit 2), and reports its refusals (exit 6)', async () => {
    for (const args of [
      ['cli-cfg-off'],
      ['cli-cfg-off', '--telemetry-sec', '0'],
      ['cli-cfg-off', '--telemetry-sec', '86401'],
      ['cli-cfg-off', '--telemetry-sec', '1.5'],
      ['cli-cfg-off', '--heartbeat-sec', '4'],
      ['cli-cfg-off', '--heartbeat-sec', 'soon'],
      ['Bad_Id!', '--telemetry-sec', '5'],
    ]) {
      const r = await kiln(['devices', 'config', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(2);
    }
    expect(t.gw.store.devices.configOf('cli-cfg-off')).toEqual({ telemetrySec: null, heartbeatSec: 300 });
    const missing = await kiln(['devices', 'config', 'no-such-device', '--telemetry-sec', '5']);
    expect([missing.code, missing.err]).toEqual([6, expect.stringContaining('no device no-such-device')]);
    const denied = await kiln(['devices', 'config', 'cli-cfg-off', '--telemetry-sec', '5'], reader);
    expect([denied.code, denied.err]).toEqual([6, expect.stringContaining('operate')]);
    const help = await kiln(['devices', 'config', '--help']);
    expect(help.out).toContain('Examples:');
  });
});
