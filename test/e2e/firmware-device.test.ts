/**
 * Acceptance test of the firmware host build (issue 5): a kiln-device process is
 * provisioned over its serial link (Improv Wi-Fi + Kiln RPC), connects to a real WSS
 * gateway with a self-signed CA, authenticates with the kiln.jwt subprotocol, sends
 * hello and telemetry, survives the gateway restarting (jittered backoff, unacknowledged
 * samples resent, none lost, none duplicated) and stops when its key is revoked (4003).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeWifiSettings,
  ImprovCommand,
  ImprovErrorCode,
  ImprovState,
  ImprovType,
  RpcMethod,
  RpcStatus,
} from '@kiln/protocol';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostDevice, waitFor } from './helpers/device.ts';
import { cleanupPki, type TestGateway as Gateway, makePki, TestGateway, type TestPki } from './helpers/gateway.ts';

const DEVICE_ID = 'e2e-device-1';

describe('firmware host device against a WSS gateway', () => {
  let pki: TestPki | undefined;
  let gateway: Gateway | undefined;
  let device: HostDevice | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    pki = makePki();
    gateway = new TestGateway(pki);
    await gateway.start(0);
    dir = mkdtempSync(join(tmpdir(), 'kiln-e2e-device-'));
    device = new HostDevice([
      '--nvs',
      join(dir, 'nvs.txt'),
      '--wifi',
      'KilnLab:correct-horse',
      '--telemetry-ms',
      '1000',
      '--backoff-base-ms',
      '200',
      '--backoff-cap-ms',
      '1600',
    ]);
  });

  afterAll(async () => {
    await device?.kill();
    await gateway?.stop();
    cleanupPki(pki);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('provisions, connects, resends after a gateway restart, and stops on revocation', {
    timeout: 90_000,
  }, async () => {
    const dev = device as HostDevice;
    const gw = gateway as TestGateway;
    await dev.waitLine(/state unprovisioned, reason no_wifi_credentials/);

    // Kiln RPC: identity, key, CA (chunked: over 256 bytes), gateway URL.
    expect((await dev.rpc(RpcMethod.SET_DEVICE_ID, Buffer.from(DEVICE_ID))).status).toBe(RpcStatus.OK);
    const key = await dev.rpc(RpcMethod.GENERATE_KEY, Buffer.from([1]));
    expect(key.status).toBe(RpcStatus.OK);
    const jwk = JSON.parse(key.data.toString('utf8')) as JWK;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256' });
    gw.keys.set(DEVICE_ID, jwk);
    const ca = Buffer.from((pki as TestPki).caPem);
    expect(ca.length).toBeGreaterThan(256);
    expect((await dev.rpc(RpcMethod.SET_CA_CERT, ca)).status).toBe(RpcStatus.OK);
    const url = `wss://127.0.0.1:${gw.port}/v1/device`;
    expect((await dev.rpc(RpcMethod.SET_GATEWAY, Buffer.from(url))).status).toBe(RpcStatus.OK);
    expect((await dev.rpc(RpcMethod.SET_GATEWAY, Buffer.from('http://nope'))).status).toBe(RpcStatus.BAD_VALUE);

    // Improv: a wrong PSK fails as the driver does ("unable to connect"), the right one provisions.
    dev.sendImprov(encodeWifiSettings('KilnLab', 'wrong-password'));
    await waitFor('Improv error UNABLE_TO_CONNECT', () =>
      dev.improv.find((f) => f.type === ImprovType.ERROR_STATE && f.data[0] === ImprovErrorCode.UNABLE_TO_CONNECT),
    );
    await dev.waitLine(/wifi_auth_failed/);
    dev.sendImprov(encodeWifiSettings('KilnLab', 'correct-horse'));
    await waitFor('Improv state PROVISIONED', () =>
      dev.improv.find((f) => f.type === ImprovType.CURRENT_STATE && f.data[0] === ImprovState.PROVISIONED),
    );

    // Online: subprotocol auth passed, hello answered, telemetry stored and acknowledged.
    await dev.waitLine(/state online/, 15_000);
    expect(gw.hellos).toBe(1);
    await waitFor('3 stored samples', () => gw.stored.size >= 3, 10_000);
    const info = await dev.rpcJson(RpcMethod.GET_INFO);
    expect(info).toMatchObject({ deviceId: DEVICE_ID, chip: 'esp32', state: 'online' });

    // Acks withheld, then the gateway dies: those samples must come again after the restart.
    gw.ackMode = 'withhold';
    const before = gw.receipts.length;
    await waitFor('2 unacknowledged samples', () => gw.receipts.length >= before + 2, 10_000);
    await gw.stop();
    await dev.waitLine(/reconnecting in \d+ ms/);
    await new Promise((r) => setTimeout(r, 2500)); // offline: samples pile up in the ring, retries fail
    gw.ackMode = 'ack';
    await gw.start(gw.port);
    await waitFor('a second hello', () => gw.hellos >= 2, 15_000);

    // Everything the device took is stored exactly once; nothing acknowledged came back.
    await new Promise((r) => setTimeout(r, 1500));
    const status = await dev.rpcJson(RpcMethod.GET_STATUS);
    const telemetry = status.telemetry as { samples: number; dropped: number };
    await waitFor('every sample stored', () => gw.stored.size >= telemetry.samples, 10_000);
    expect(telemetry.dropped).toBe(0);
    expect(gw.stored.size).toBeGreaterThanOrEqual(telemetry.samples);
    expect(gw.receipts.filter((r) => r.afterAck)).toEqual([]);
    const seen = new Map<number, number>();
    for (const r of gw.receipts) seen.set(r.seq, (seen.get(r.seq) ?? 0) + 1);
    expect([...seen.values()].some((n) => n > 1)).toBe(true); // the withheld ones were resent
    const waits = dev.lines.flatMap((l) => /reconnecting in (\d+) ms/.exec(l)?.slice(1) ?? []).map(Number);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1600);
    expect(new Set(waits).size).toBeGreaterThan(1); // jittered, not a fixed schedule
    expect(gw.invalid).toEqual([]);

    // Revocation: close 4003 stops the device for good, with a clear line.
    const attempts = dev.count(/connecting to wss:/);
    gw.revoke(DEVICE_ID);
    await dev.waitLine(/revoked this device \(close 4003\): stopped/);
    await new Promise((r) => setTimeout(r, 2500));
    expect(dev.count(/connecting to wss:/)).toBe(attempts);
    expect(await dev.rpcJson(RpcMethod.GET_STATUS)).toMatchObject({ state: 'error', reason: 'revoked' });
    expect(ImprovCommand.WIFI_SETTINGS).toBe(1);
  });
});
