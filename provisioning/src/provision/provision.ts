/**
 * `kiln provision` as a function: one device from blank (or already enrolled) to
 * online at the gateway. Order: Improv state and info; Kiln RPC identity, CA, gateway
 * URL and key (generated on the device; kept unless rotating); registration at the
 * gateway (before Wi-Fi, so the first connection is accepted); Improv Wi-Fi; wait
 * until the gateway reports the device online. The PSK and keys are never reported.
 */
import { isDeviceId, UsageError } from '@kiln/protocol';
import { caFingerprint, GatewayApi, type GatewayDevice, jwkThumbprint, restBaseOf } from './gateway.ts';
import { ImprovClient } from './improv.ts';
import { SerialLink } from './link.ts';
import { RpcClient } from './rpc.ts';

export interface ProvisionOptions {
  /** A port as the user wrote it, or an open link. */
  port: string | SerialLink;
  ssid?: string;
  psk?: string;
  /** The device endpoint, wss://host:port/v1/device. */
  gateway?: string;
  /** PEM of the CA the device (and this client) trust for the gateway. */
  ca?: string;
  apiKey?: string;
  /** Default: the id the device has, else kiln-<MAC>. */
  deviceId?: string;
  rotateKey?: boolean;
  factoryReset?: boolean;
  /** How long to wait for the device to come online. Default 30 s. */
  onlineTimeoutMs?: number;
  /** How long to wait for the device to answer at first (booting). Default 15 s. */
  bootTimeoutMs?: number;
  onStep?: (step: string) => void;
  /** Every device log line (the PSK masked, should the device ever print it). */
  onLog?: (line: string) => void;
}

export interface ProvisionSummary {
  port: string;
  deviceId: string;
  mac: string;
  chip: string;
  firmware: string;
  improvState: string;
  ssid?: string;
  provisionedUrl?: string;
  gateway?: string;
  caFingerprint?: string;
  /** RFC 7638 thumbprint of the device's public key. */
  keyThumbprint?: string;
  key: 'generated' | 'kept' | 'rotated' | 'none';
  registration: 'registered' | 'already-registered' | 'key-rotated' | 'skipped';
  online: boolean;
  factoryReset: boolean;
  ms: number;
}

export function defaultDeviceId(mac: string): string {
  return `kiln-${mac.replaceAll(':', '').toLowerCase()}`;
}

export async function provision(o: ProvisionOptions): Promise<ProvisionSummary> {
  const started = Date.now();
  const step = o.onStep ?? (() => {});
  if (o.gateway && !o.apiKey) {
    throw new UsageError('api-key', 'registering at the gateway needs an API key', {
      hint: 'set KILN_API_KEY or --api-key-file (create one with: kiln gateway api-key create --scope enroll --name provisioning)',
    });
  }
  if (o.ssid !== undefined && o.psk === undefined) throw new UsageError('psk', `no Wi-Fi password for "${o.ssid}"`);
  if (o.deviceId !== undefined && !isDeviceId(o.deviceId)) {
    throw new UsageError('device-id', `device id '${o.deviceId}': lower-case letters, digits, - and _, 3..64`);
  }
  const fingerprint = o.ca ? caFingerprint(o.ca) : undefined;
  const base = o.gateway ? restBaseOf(o.gateway) : undefined;
  const mask = (line: string) => (o.psk ? line.replaceAll(o.psk, '***') : line);
  const onLog = o.onLog;
  const link =
    typeof o.port === 'string' ? await SerialLink.open(o.port, onLog ? { onLog: (l) => onLog(mask(l)) } : {}) : o.port;
  const portName = typeof o.port === 'string' ? o.port : 'link';
  try {
    const improv = new ImprovClient(link);
    const rpc = new RpcClient(link);
    step('waiting for the device (Improv current state)');
    let state = await improv.currentState(o.bootTimeoutMs ?? 15_000);
    if (o.factoryReset) {
      step('factory reset: erasing settings and key');
      await rpc.factoryReset();
      state = await improv.currentState();
    }
    const info = await rpc.getInfo();
    const deviceId = o.deviceId ?? info.deviceId ?? defaultDeviceId(info.mac);
    const summary: ProvisionSummary = {
      port: portName,
      deviceId,
      mac: info.mac,
      chip: info.chip,
      firmware: `${info.firmware.name} ${info.firmware.version}`,
      improvState: state.name,
      ...(state.url ? { provisionedUrl: state.url } : {}),
      key: 'none',
      registration: 'skipped',
      online: false,
      factoryReset: o.factoryReset ?? false,
      ms: 0,
    };
    if (!o.gateway && o.ssid === undefined) {
      summary.ms = Date.now() - started;
      return summary;
    }
    if (info.deviceId !== deviceId) {
      step(`setting the device id ${deviceId}`);
      await rpc.setDeviceId(deviceId);
    }
    let jwk: Awaited<ReturnType<RpcClient['generateKey']>> | undefined;
    if (o.gateway) {
      step(`setting the gateway ${o.gateway}${fingerprint ? ` and its CA (SHA-256 ${fingerprint})` : ''}`);
      await rpc.setCaCert(o.ca ?? '');
      await rpc.setGateway(o.gateway);
      const before = await rpc.getPublicKey().catch(() => undefined);
      step(o.rotateKey ? 'generating a new key on the device (rotation)' : 'making sure the device has its key');
      jwk = await rpc.generateKey(o.rotateKey ?? false);
      summary.key = o.rotateKey ? 'rotated' : before ? 'kept' : 'generated';
      summary.keyThumbprint = jwkThumbprint(jwk);
      summary.gateway = o.gateway;
      if (fingerprint) summary.caFingerprint = fingerprint;
      const api = new GatewayApi(base as string, o.apiKey as string, o.ca);
      summary.registration = await enrol(api, deviceId, jwk, step);
    }
    if (o.ssid !== undefined) {
      step(`sending Wi-Fi settings for "${o.ssid}" (Improv)`);
      const { url } = await improv.sendWifi(o.ssid, o.psk as string);
      summary.ssid = o.ssid;
      summary.improvState = 'provisioned';
      if (url) summary.provisionedUrl = url;
    }
    if (o.gateway) {
      step('waiting until the gateway reports the device online');
      const api = new GatewayApi(base as string, o.apiKey as string, o.ca);
      await api.waitOnline(deviceId, o.onlineTimeoutMs ?? 30_000);
      summary.online = true;
    }
    summary.ms = Date.now() - started;
    return summary;
  } finally {
    if (typeof o.port === 'string') await link.close();
  }
}

async function enrol(
  api: GatewayApi,
  id: string,
  jwk: NonNullable<Parameters<GatewayApi['register']>[1]>,
  step: (s: string) => void,
): Promise<ProvisionSummary['registration']> {
  const existing: GatewayDevice | undefined = await api.get(id);
  if (!existing) {
    step(`registering ${id} at ${api.baseUrl}`);
    await api.register(id, jwk);
    return 'registered';
  }
  if (existing.publicKey.x === jwk.x && existing.publicKey.y === jwk.y && existing.state !== 'revoked') {
    step(`${id} is already registered with this key`);
    return 'already-registered';
  }
  step(`${id} is registered with ${existing.state === 'revoked' ? 'a revoked' : 'another'} key: rotating it`);
  await api.rotateKey(id, jwk);
  return 'key-rotated';
}

/** The summary as text: no PSK, no keys (the key's thumbprint only). */
export function formatSummary(s: ProvisionSummary): string {
  const rows: [string, string | undefined][] = [
    ['device', s.deviceId],
    ['port', s.port],
    ['chip / MAC', `${s.chip} / ${s.mac}`],
    ['firmware', s.firmware],
    ['Wi-Fi', s.ssid ? `"${s.ssid}" (password not shown), Improv ${s.improvState}` : `Improv ${s.improvState}`],
    ['provisioned URL', s.provisionedUrl],
    ['gateway', s.gateway],
    ['gateway CA', s.caFingerprint ? `SHA-256 ${s.caFingerprint}` : s.gateway ? "device's CA bundle" : undefined],
    ['key', s.keyThumbprint ? `${s.key} on the device, thumbprint ${s.keyThumbprint}` : undefined],
    ['registration', s.registration],
    ['status', s.online ? 'online at the gateway' : s.factoryReset && !s.gateway ? 'factory reset' : 'not checked'],
    ['took', `${(s.ms / 1000).toFixed(1)} s`],
  ];
  return `${rows
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${k.padEnd(16)} ${v}`)
    .join('\n')}\n`;
}
