/**
 * BenchGateway against the real embedded gateway (TLS, aedes, SQLite) and one virtual
 * DUT running the firmware host build: sendCommand is a real MQTT → device → result
 * round trip (and times out when nobody answers), waitForTelemetry/waitForStatus see
 * what MQTT subscribers see, restart() keeps the store, CA, API key and ports, revoke()
 * cuts the device off, and the REST and /metrics helpers read what the gateway holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBench, startBench } from '../src/bench.ts';
import { loadBench } from '../src/bench-file.ts';
import { expectBoot } from '../src/device-console.ts';
import type { Dut } from '../src/dut.ts';
import { BenchGateway } from '../src/gateway.ts';
import { metricValue } from '../src/gateway-rest.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kiln-gw-test-'));
let bench: RunningBench;
let dut: Dut;
let deviceId: string;

beforeAll(async () => {
  const file = loadBench(join(ROOT, 'hardware/benches/virtual.yaml'));
  bench = await startBench({ ...file, duts: file.duts.slice(0, 1) }, { logDir: join(dir, 'logs'), timeoutMs: 15_000 });
  dut = bench.duts[0] as Dut;
  deviceId = (await bench.provisioned(dut)).deviceId;
  await bench.gateway.watch();
}, 60_000);

afterAll(async () => {
  await bench?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sendCommand', () => {
  it('round-trips through the device: ok for ping, unsupported for an unknown name', async () => {
    const g = bench.gateway;
    const ping = await g.sendCommand(deviceId, 'ping');
    expect(ping).toMatchObject({ status: 'ok', deviceId });
    expect(ping.id).toMatch(/^hil-[0-9a-f-]{12}$/);
    // The device saw this very command.
    await dut.expectExact(`kiln: command ping (${ping.id})`, { timeout: 5000 });
    const other = await g.sendCommand(deviceId, 'ping');
    expect(other.id).not.toBe(ping.id);
    const unknown = await g.sendCommand(deviceId, 'self_destruct', { now: true });
    expect(unknown).toMatchObject({ status: 'unsupported', deviceId });
  });

  it('reboot: the result arrives, then the device boots with a new boot id', async () => {
    const before = await bench.gateway.waitForOnline(deviceId);
    dut.discard();
    const r = await bench.gateway.sendCommand(deviceId, 'reboot');
    expect(r.status).toBe('ok');
    const boot = await expectBoot(dut);
    expect(boot.bootId).not.toBe(before.bootId);
    const after = await bench.gateway.waitForDevice(deviceId, (d) => d.online && d.bootId === boot.bootId);
    expect(after.state).toBe('online');
  });

  it('rejects with MQTT_TIMEOUT when no result comes (a device the gateway does not know)', async () => {
    const started = Date.now();
    await expect(bench.gateway.sendCommand('hil-nobody', 'ping', {}, { timeout: 800 })).rejects.toMatchObject({
      code: 'MQTT_TIMEOUT',
      message: expect.stringMatching(/no result of command ping \(hil-[^)]+\) from hil-nobody on MQTT within 0.8 s/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
  });
});

describe('telemetry and status on MQTT, stored telemetry on REST', () => {
  it('waitForTelemetry sees samples with increasing seqs; fresh ones only arrive later', async () => {
    const g = bench.gateway;
    const old = await g.waitForTelemetry(deviceId);
    // Without `fresh`, a sample seen before is returned at once (the oldest, maybe of a previous boot).
    expect(g.telemetry.get(deviceId)?.[0]).toBe(old);
    const first = await g.waitForTelemetry(deviceId, () => true, { fresh: true });
    expect(g.telemetry.get(deviceId)?.indexOf(first)).toBeGreaterThan(0);
    const fresh = await g.waitForTelemetry(deviceId, (m) => m.bootId === first.bootId, { fresh: true });
    expect(fresh).not.toBe(first);
    expect(fresh.seq).toBeGreaterThan(first.seq);
    expect(typeof fresh.metrics.uptime_ms).toBe('number');
    await expect(g.waitForTelemetry(deviceId, (m) => m.seq < 0, { timeout: 500 })).rejects.toMatchObject({
      code: 'MQTT_TIMEOUT',
    });
    const stored = await g.storedTelemetry(deviceId);
    expect(stored.some((r) => r.bootId === fresh.bootId && r.seq === fresh.seq)).toBe(true);
  });

  it('waitForStatus gives the retained status; waitForDevice times out with what the gateway shows', async () => {
    const s = await bench.gateway.waitForStatus(deviceId, (x) => x.state === 'online');
    expect(s.instance).toMatch(/^hil-\d+$/);
    await expect(
      bench.gateway.waitForDevice(deviceId, (d) => d.state === 'revoked', { timeout: 600, what: 'revoked' }),
    ).rejects.toMatchObject({
      code: 'DEVICE_WAIT_TIMEOUT',
      message: expect.stringContaining(
        `device ${deviceId} was not revoked at the gateway within 0.6 s (last: state online`,
      ),
    });
  });

  it('devices() lists the enrolment, metric() reads /metrics', async () => {
    const list = await bench.gateway.devices();
    expect(list.map((d) => d.id)).toEqual([deviceId]);
    expect(await bench.gateway.metric('kiln_device_connections')).toBe(1);
    expect(await bench.gateway.metric('kiln_messages_in_total', { type: 'telemetry' })).toBeGreaterThan(0);
    expect(await bench.gateway.metric('kiln_no_such_metric')).toBe(0);
  });
});

describe('restart and revoke', () => {
  it('restart(): same URL, CA and key; the device reconnects with the same boot and MQTT flows again', async () => {
    const g = bench.gateway;
    const url = g.deviceUrl;
    const before = await g.waitForOnline(deviceId);
    dut.discard();
    await g.restart({ downMs: 1500 });
    expect(g.deviceUrl).toBe(url);
    expect(g.embedded?.deviceUrl).toBe(url);
    await dut.expect(/kiln: gateway session closed \(code 1001/);
    await dut.expect(/kiln: online: telemetry every 1 s, [1-9]\d* unacknowledged sample\(s\) to resend/);
    const after = await g.waitForDevice(deviceId, (d) => d.online);
    expect(after.bootId).toBe(before.bootId);
    await g.waitForTelemetry(deviceId, () => true, { fresh: true });
    // The connection counter starts again: a new process, the same store.
    expect(await g.metric('kiln_device_connections')).toBe(1);
  });

  it('revoke(): the session closes with 4003, status and REST say revoked; a rotated key brings it back', async () => {
    const g = bench.gateway;
    dut.discard();
    const view = await g.revoke(deviceId);
    expect(view).toMatchObject({ id: deviceId, state: 'revoked', online: false });
    await dut.expect(/kiln: gateway revoked this device \(close 4003\)/);
    await g.waitForStatus(deviceId, (s) => s.state === 'revoked', { timeout: 5000 });
    const s = await dut.provision({ rotateKey: true });
    expect(s).toMatchObject({ key: 'rotated', registration: 'key-rotated', online: true });
    await g.waitForStatus(deviceId, (x) => x.state === 'online', { timeout: 5000 });
  });

  it('an external gateway needs its API key, and cannot be restarted by the harness', async () => {
    const spec = { kind: 'external' as const, url: 'wss://gw.invalid:8443/v1/device', apiKeyEnv: 'HIL_KEY' };
    await expect(BenchGateway.start(spec, {})).rejects.toMatchObject({ code: 'GATEWAY_API_KEY' });
    const external = await BenchGateway.start(spec, { HIL_KEY: 'k' });
    await expect(external.restart()).rejects.toMatchObject({ code: 'GATEWAY_NOT_OURS' });
    await external.close();
  });
});

describe('metricValue', () => {
  it('sums the series whose labels include the ones asked for', () => {
    const text = [
      '# HELP kiln_device_auth_failures_total Device handshakes refused, by reason',
      '# TYPE kiln_device_auth_failures_total counter',
      'kiln_device_auth_failures_total{reason="DEVICE_REVOKED"} 3',
      'kiln_device_auth_failures_total{reason="JWT_EXPIRED",ip="a"} 2',
      'kiln_device_auth_failures_total_x 9',
      'kiln_device_connections 4',
    ].join('\n');
    expect(metricValue(text, 'kiln_device_auth_failures_total', { reason: 'DEVICE_REVOKED' })).toBe(3);
    expect(metricValue(text, 'kiln_device_auth_failures_total')).toBe(5);
    expect(metricValue(text, 'kiln_device_connections')).toBe(4);
    expect(metricValue(text, 'kiln_device_auth_failures_total', { reason: 'NOPE' })).toBe(0);
  });
});
