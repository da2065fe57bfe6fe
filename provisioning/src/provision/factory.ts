/**
 * Factory provisioning with host-generated keys (`kiln provision --host-keys`): the
 * P-256 key is made here, not on the device, so it exists off the device — the CLI
 * warns. Per device: an NVS image of the firmware's `kiln` namespace (Wi-Fi, gateway,
 * CA, device id, key; byte-identical to what esp-idf-nvs-partition-gen makes of the
 * same CSV), written at the NVS offset read from the device's partition table, the
 * public key registered at the gateway, then a reset and a wait until it is online.
 */
import { generateKeyPairSync } from 'node:crypto';
import { flash, readFlash } from '@kiln/flasher';
import { ExitCode, KilnError } from '@kiln/protocol';
import { parsePartitionTable } from '@kiln/protocol/formats/partition-table';
import type { NvsCsvRow } from '../nvs/csv.ts';
import { generateNvsRows } from '../nvs/generate.ts';
import { GatewayApi, jwkThumbprint, restBaseOf } from './gateway.ts';
import type { PublicJwk } from './rpc.ts';

/** The firmware's NVS keys (firmware/components/kiln_device/private_include/kiln_device_internal.h). */
export const KILN_NVS = {
  namespace: 'kiln',
  ssid: 'wifi_ssid',
  psk: 'wifi_pass',
  gateway: 'gw_url',
  ca: 'ca_pem',
  deviceId: 'device_id',
  key: 'p256_d',
} as const;

const PARTITION_TABLE = { offset: 0x8000, size: 0xc00 } as const;

export interface HostKey {
  /** The 32-byte private scalar, as the firmware stores it. */
  d: Buffer;
  publicJwk: PublicJwk;
}

export function generateHostKey(): HostKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as { x: string; y: string; d: string };
  return { d: Buffer.from(jwk.d, 'base64url'), publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } };
}

export interface FactorySettings {
  ssid: string;
  psk: string;
  gateway: string;
  ca?: string | undefined;
}

/** The NVS CSV rows of one device (what `kiln nvs gen` would read), all values as hex2bin blobs. */
export function factoryRows(s: FactorySettings, deviceId: string, key: HostKey): NvsCsvRow[] {
  const blob = (k: string, v: Buffer | string, line: number): NvsCsvRow => ({
    line,
    key: k,
    type: 'data',
    encoding: 'hex2bin',
    value: Buffer.from(v).toString('hex'),
  });
  return [
    { line: 2, key: KILN_NVS.namespace, type: 'namespace', encoding: '', value: '' },
    blob(KILN_NVS.ssid, s.ssid, 3),
    blob(KILN_NVS.psk, s.psk, 4),
    blob(KILN_NVS.gateway, s.gateway, 5),
    ...(s.ca ? [blob(KILN_NVS.ca, s.ca, 6)] : []),
    blob(KILN_NVS.deviceId, deviceId, 7),
    blob(KILN_NVS.key, key.d, 8),
  ];
}

/** The data/nvs partition of an ESP-IDF partition table (first one, or the one labelled `nvs`). */
export function findNvsPartition(table: Uint8Array): { offset: number; size: number; label: string } {
  const parsed = parsePartitionTable(table);
  // data (0x01) / nvs (0x02); "nvs" by name first, as ESP-IDF's nvs_flash_init() opens it.
  const found = parsed.ok ? parsed.partitions.filter((p) => p.type === 0x01 && p.subtype === 0x02) : [];
  const nvs = found.find((p) => p.label === 'nvs') ?? found[0];
  if (!nvs) {
    throw new KilnError('no-nvs-partition', 'the partition table on the device has no data/nvs partition', {
      hint: 'flash the firmware (with its partition table) first: kiln flash --port … firmware/build',
      exitCode: ExitCode.DEVICE,
    });
  }
  return nvs;
}

export interface FactoryResult {
  deviceId: string;
  nvs: { offset: number; size: number };
  keyThumbprint: string;
  registration: 'registered' | 'key-rotated';
  image: Buffer;
}

/** One device: image, flash at its NVS offset, register, reset (the flasher resets after writing). */
export async function factoryProvision(
  port: string,
  deviceId: string,
  s: FactorySettings,
  apiKey: string,
  step: (s: string) => void = () => {},
): Promise<FactoryResult> {
  step('reading the partition table');
  const table = await readFlash({ port, address: PARTITION_TABLE.offset, size: PARTITION_TABLE.size });
  const nvs = findNvsPartition(table);
  const key = generateHostKey();
  const image = generateNvsRows(factoryRows(s, deviceId, key), { size: nvs.size, name: `${deviceId} NVS` });
  const api = new GatewayApi(restBaseOf(s.gateway), apiKey, s.ca);
  const existing = await api.get(deviceId);
  step(`${existing ? 'rotating the key of' : 'registering'} ${deviceId} at the gateway`);
  if (existing) await api.rotateKey(deviceId, key.publicJwk);
  else await api.register(deviceId, key.publicJwk);
  step(`writing the NVS image at 0x${nvs.offset.toString(16)} (${nvs.size} bytes)`);
  await flash({
    port,
    plan: {
      merged: false,
      regions: [{ address: nvs.offset, data: image, name: 'nvs', file: `${deviceId} NVS (memory)` }],
    },
  });
  key.d.fill(0);
  return {
    deviceId,
    nvs: { offset: nvs.offset, size: nvs.size },
    keyThumbprint: jwkThumbprint(key.publicJwk),
    registration: existing ? 'key-rotated' : 'registered',
    image,
  };
}
