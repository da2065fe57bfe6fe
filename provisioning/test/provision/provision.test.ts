/**
 * Acceptance (issue 7): on a virtual board running the firmware host build, `kiln
 * provision` takes a blank device to "online at the gateway" in one command against a
 * real gateway; a wrong PSK is reported as Improv "unable to connect" and the device
 * stays provisionable; re-provisioning keeps the key, --rotate-key replaces it at the
 * gateway too; the PSK and API key never appear in the output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, type Rig, provisionArgs as rigArgs, startRig } from './bench.ts';

const PSK = 'correct-horse-battery';
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.stop();
});

function provisionArgs(port: string, extra: string[] = []): string[] {
  return rigArgs(rig, ['--port', port], extra);
}

describe('kiln provision on a virtual board against a real gateway', () => {
  it('takes a blank device to online in one command, then re-provisions and rotates its key', {
    timeout: 60_000,
  }, async () => {
    const board = await rig.board(`KilnLab:${PSK}`);
    const r = await kiln(provisionArgs(board.url, ['--device-id', 'bench-dev-1', '--device-log']), {
      KILN_WIFI_PSK: PSK,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/status\s+online at the gateway/);
    expect(r.stdout).toMatch(/registration\s+registered/);
    expect(r.stdout).toMatch(/gateway CA\s+SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect(r.stdout).toMatch(/key\s+generated on the device, thumbprint /);
    for (const secret of [PSK, rig.apiKey]) expect(r.stdout + r.stderr).not.toContain(secret);
    const row = rig.gw.store.devices.get('bench-dev-1');
    expect(row?.publicKeyJwk).toMatchObject({ kty: 'EC', crv: 'P-256' });

    // Again: the key is kept and the registration found; nothing is enrolled twice.
    const again = await kiln(provisionArgs(board.url, ['--json', '-q']), { KILN_WIFI_PSK: PSK });
    expect(again.code, again.stderr).toBe(0);
    const s = JSON.parse(again.stdout);
    expect(s).toMatchObject({ deviceId: 'bench-dev-1', key: 'kept', registration: 'already-registered', online: true });

    // Rotation: a new key on the device, rotated at the gateway, online with it.
    const rotated = await kiln(provisionArgs(board.url, ['--json', '-q', '--rotate-key']), { KILN_WIFI_PSK: PSK });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ key: 'rotated', registration: 'key-rotated', online: true });
    expect(rig.gw.store.devices.get('bench-dev-1')?.publicKeyJwk).not.toEqual(row?.publicKeyJwk);
  });

  it('reports a wrong PSK as Improv "unable to connect", and the device stays provisionable', {
    timeout: 60_000,
  }, async () => {
    const board = await rig.board(`KilnLab:${PSK}`);
    const wrong = await kiln(provisionArgs(board.url, ['--device-id', 'bench-dev-2']), {
      KILN_WIFI_PSK: 'not-the-psk',
    });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/Improv: Wi-Fi "KilnLab": the device reports "unable to connect"/);
    expect(wrong.stderr).toMatch(/still provisionable/);
    expect(wrong.stdout + wrong.stderr).not.toContain('not-the-psk');
    const right = await kiln(provisionArgs(board.url, ['--device-id', 'bench-dev-2', '--json', '-q']), {
      KILN_WIFI_PSK: PSK,
    });
    expect(right.code, right.stderr).toBe(0);
    expect(JSON.parse(right.stdout)).toMatchObject({ online: true, registration: 'already-registered' });
  });

  it('refuses a PSK on the command line, with a hint', async () => {
    const r = await kiln(['provision', '--port', 'socket://127.0.0.1:1', '--ssid', 'X', '--psk', 'secret123']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--psk is refused/);
    expect(r.stderr).toMatch(/KILN_WIFI_PSK/);
  });
});
