/**
 * Bench runs (issue 7, Deliver 2-3): several virtual boards in parallel with a
 * per-device result table and a JSON report; a rerun verifies and skips enrolled
 * devices (never enrols twice); factory mode generates keys on the host, writes each
 * device's NVS image at the offset from its partition table, and registers the keys.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kiln, provisionArgs, type Rig, startRig } from './bench.ts';

const PSK = 'bench-psk-1234';
let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.stop();
});

async function bench(prefix: string, n: number): Promise<string> {
  const rows = ['port,device_id'];
  for (let i = 1; i <= n; i++) rows.push(`${(await rig.board(`KilnLab:${PSK}`)).url},${prefix}-${i}`);
  const file = join(rig.dir, `${prefix}.csv`);
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

function args(devices: string, report: string, extra: string[] = []): string[] {
  return provisionArgs(rig, ['--devices', devices], ['--report', report, ...extra]);
}

describe('kiln provision --devices', () => {
  it('provisions a bench in parallel, reports per device, and resumes without enrolling twice', {
    timeout: 60_000,
  }, async () => {
    const devices = await bench('line-a', 3);
    const report = join(rig.dir, 'line-a.json');
    const r = await kiln(args(devices, report), { KILN_WIFI_PSK: PSK });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/line-a-1\s+enrolled\s+device/);
    expect(r.stdout).toMatch(/3 of 3 online/);
    const first = JSON.parse(readFileSync(report, 'utf8'));
    expect(first.devices.map((d: { status: string }) => d.status)).toEqual(['enrolled', 'enrolled', 'enrolled']);
    const again = await kiln(args(devices, report, ['--json', '-q']), { KILN_WIFI_PSK: PSK });
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.devices.map((d: { status: string }) => d.status)).toEqual(['verified', 'verified', 'verified']);
    expect(r.stdout + r.stderr + again.stdout + again.stderr).not.toContain(PSK);
  });

  it('factory mode: host keys, NVS images at the partition-table offset, registered, online', {
    timeout: 60_000,
  }, async () => {
    const devices = await bench('factory', 2);
    const report = join(rig.dir, 'factory.json');
    const r = await kiln(args(devices, report, ['--host-keys']), { KILN_WIFI_PSK: PSK });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: --host-keys: device keys are generated on this computer/);
    expect(r.stderr).toMatch(/writing the NVS image at 0x9000/);
    expect(r.stdout).toMatch(/2 of 2 online/);
    const entries = JSON.parse(readFileSync(report, 'utf8')).devices;
    expect(
      entries.every(
        (e: { keys: string; registration: string }) => e.keys === 'host' && e.registration === 'registered',
      ),
    ).toBe(true);
  });
});
