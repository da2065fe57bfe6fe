/**
 * `kiln devices list|show|config|revoke|rotate`: the fleet as the gateway knows it, over its REST API
 * (GET /api/v1/devices, /api/v1/devices/:id, PUT …/config, POST …/revoke, …/rotate-key). Tables for people,
 * one JSON document with --json. Revoking and rotating ask first on a terminal unless --yes;
 * without a terminal they need --yes.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { CHIPS, isDeviceId, UsageError } from '@kiln/protocol';
import { type Command, Option } from 'commander';
import { ago, iso, table } from './format.ts';
import { CONNECTION_HELP, type ConnectionFlags, connectionOptions, GatewayClient } from './gateway-client.ts';

export interface DeviceView {
  id: string;
  state: string;
  online: boolean;
  chip: string | null;
  mac: string | null;
  firmware: { name: string; version: string } | null;
  lastSeenAt: number | null;
  rssi: number | null;
  rssiAt: number | null;
  reconnects: number;
  createdAt: number;
  revokedAt: number | null;
  keyRotatedAt: number | null;
  bootId: string | null;
  publicKey: JsonWebKey;
  /** The intervals in force (the device's own, else the gateway's defaults). */
  config?: { telemetrySec: number; heartbeatSec: number };
}

/** PUT /api/v1/devices/:id/config's answer. */
export interface DeviceConfigReply {
  deviceId: string;
  telemetrySec: number;
  heartbeatSec: number;
  delivered: boolean;
}

interface Page {
  devices: DeviceView[];
  next: string | null;
  total: number;
}

const out = (s: string): void => {
  process.stdout.write(s);
};
const devicePath = (id: string) => `/api/v1/devices/${encodeURIComponent(id)}`;

function checkId(id: string): string {
  if (!isDeviceId(id))
    throw new UsageError('BAD_DEVICE_ID', `"${id}" is not a device id`, {
      hint: '3..64 of a-z 0-9 - _, starting with a letter or digit',
    });
  return id;
}

const firmware = (d: DeviceView) => (d.firmware ? `${d.firmware.name} ${d.firmware.version}` : null);

/** Every page of the list (or up to `max` devices). */
export async function listDevices(
  client: GatewayClient,
  filter: { q?: string; state?: string; chip?: string },
  max = Number.POSITIVE_INFINITY,
): Promise<{ devices: DeviceView[]; total: number }> {
  const devices: DeviceView[] = [];
  let after: string | null = null;
  let total = 0;
  do {
    const qs = new URLSearchParams({ limit: String(Math.min(1000, max - devices.length)) });
    for (const [k, v] of Object.entries(filter)) if (v) qs.set(k, v);
    if (after) qs.set('after', after);
    const page: Page = await client.call<Page>('GET', `/api/v1/devices?${qs}`);
    devices.push(...page.devices);
    total = page.total;
    after = page.next;
  } while (after && devices.length < max);
  return { devices, total };
}

async function confirm(question: string, yes: boolean | undefined, what: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new UsageError('CONFIRMATION_NEEDED', `${what} needs confirmation and there is no terminal to ask on`, {
      hint: 'pass --yes to go ahead without asking',
    });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes')
      throw new UsageError('NOT_CONFIRMED', `${what}: not confirmed, nothing changed`);
  } finally {
    rl.close();
  }
}

/** A P-256 public key from a JWK (JSON) or PEM file, as the gateway takes it. */
export function readPublicKey(path: string): { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('KEY_FILE', `cannot read the key file ${path}: ${(e as Error).message}`);
  }
  let jwk: JsonWebKey;
  try {
    jwk = text.trim().startsWith('{')
      ? createPublicKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' })
      : createPublicKey(text).export({ format: 'jwk' });
  } catch (e) {
    throw new UsageError('BAD_KEY_FILE', `${path} is not a public key (JWK or PEM): ${(e as Error).message}`, {
      hint: 'kiln provision reads the device key back; its public JWK is what rotate takes',
    });
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y)
    throw new UsageError('BAD_KEY_FILE', `${path} is not a P-256 (ES256) public key`, {
      hint: 'Kiln devices sign with P-256 keys they generate themselves',
    });
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** An interval flag: whole seconds in range, or `default` (null: back to the gateway's default). */
export function intervalFlag(flag: string, value: string, min: number, max: number): number | null {
  if (value === 'default') return null;
  const n = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max))
    throw new UsageError('BAD_INTERVAL', `${flag} must be whole seconds ${min}..${max} or "default", not "${value}"`, {
      hint: `e.g. ${flag} 30`,
    });
  return n;
}

/** Sets a device's telemetry and/or heartbeat interval; the gateway sends it at once if the device is online. */
export function setDeviceConfig(
  client: GatewayClient,
  id: string,
  config: { telemetrySec?: number | null; heartbeatSec?: number | null },
): Promise<DeviceConfigReply> {
  return client.call<DeviceConfigReply>('PUT', `${devicePath(checkId(id))}/config`, config, { deviceId: id });
}

function showText(d: DeviceView): string {
  const rows: [string, string | number | null][] = [
    ['id', d.id],
    ['state', d.state],
    ['online', d.online ? 'yes' : 'no'],
    ['chip', d.chip],
    ['mac', d.mac],
    ['firmware', firmware(d)],
    ['last seen', d.lastSeenAt ? `${iso(d.lastSeenAt)} (${ago(d.lastSeenAt)})` : null],
    ['rssi', d.rssi === null ? null : `${d.rssi} dBm (${iso(d.rssiAt)})`],
    ['reconnects', d.reconnects],
    ['telemetry', d.config ? `every ${d.config.telemetrySec} s` : null],
    ['heartbeat', d.config ? `every ${d.config.heartbeatSec} s` : null],
    ['boot id', d.bootId],
    ['registered', iso(d.createdAt)],
    ['key rotated', iso(d.keyRotatedAt)],
    ['revoked', iso(d.revokedAt)],
    ['public key', `EC P-256 x=${String(d.publicKey.x)}`],
  ];
  return rows.map(([k, v]) => `${`${k}:`.padEnd(13)}${v ?? '-'}\n`).join('');
}

type ListFlags = ConnectionFlags & { q?: string; state?: string; chip?: string; limit?: string; json?: boolean };

export function registerDeviceCommands(program: Command): void {
  const devices = program
    .command('devices')
    .description("the devices a gateway knows: list, show, set a device's intervals, revoke, rotate a key")
    .addHelpText(
      'after',
      `
Examples:
  export KILN_API_KEY=$(cat ~/.kiln/operator.key)
  kiln devices list
  kiln devices list --state online --chip esp32s3 --json
  kiln devices show kitchen-01
  kiln devices config kitchen-01 --telemetry-sec 30
  kiln devices revoke kitchen-01
  kiln devices rotate kitchen-01 --key kitchen-01.pub.jwk
${CONNECTION_HELP}`,
    );

  connectionOptions(
    devices
      .command('list')
      .description('list devices: state, online, chip, firmware, RSSI, reconnects, last seen')
      .option('-q, --search <text>', 'only devices whose id, MAC or firmware name contains this')
      .addOption(
        new Option('--state <state>', 'only devices in this state').choices([
          'online',
          'offline',
          'registered',
          'revoked',
        ]),
      )
      .addOption(new Option('--chip <chip>', 'only this chip').choices([...CHIPS]))
      .option('--limit <n>', 'at most this many devices (default: all)')
      .option('--json', 'one JSON document: {"devices": [...], "total": n}'),
  )
    .addHelpText(
      'after',
      `
Examples:
  kiln devices list
  kiln devices list -q kitchen --state online
  kiln devices list --chip esp32c3 --limit 20 --json
${CONNECTION_HELP}`,
    )
    .action(async (f: ListFlags & { search?: string }) => {
      let max = Number.POSITIVE_INFINITY;
      if (f.limit !== undefined) {
        max = Number(f.limit);
        if (!Number.isSafeInteger(max) || max < 1)
          throw new UsageError('BAD_LIMIT', '--limit must be a whole number 1 or more');
      }
      const client = GatewayClient.fromFlags(f);
      const { devices: rows, total } = await listDevices(
        client,
        {
          ...(f.search ? { q: f.search } : {}),
          ...(f.state ? { state: f.state } : {}),
          ...(f.chip ? { chip: f.chip } : {}),
        },
        max,
      );
      if (f.json) return out(`${JSON.stringify({ devices: rows, total })}\n`);
      if (rows.length === 0) return out('no devices match\n');
      out(
        table(
          ['ID', 'STATE', 'ONLINE', 'CHIP', 'FIRMWARE', 'RSSI', 'RECONNECTS', 'LAST SEEN'],
          rows.map((d) => [
            d.id,
            d.state,
            d.online ? 'yes' : 'no',
            d.chip,
            firmware(d),
            d.rssi,
            d.reconnects,
            ago(d.lastSeenAt),
          ]),
        ),
      );
      if (rows.length < total) out(`(${rows.length} of ${total} shown)\n`);
    });

  connectionOptions(
    devices
      .command('show')
      .description('one device in full')
      .argument('<id>', 'the device id')
      .option('--json', 'the device as one JSON document'),
  )
    .addHelpText(
      'after',
      `\nExamples:\n  kiln devices show kitchen-01\n  kiln devices show kitchen-01 --json\n${CONNECTION_HELP}`,
    )
    .action(async (id: string, f: ConnectionFlags & { json?: boolean }) => {
      checkId(id);
      const d = await GatewayClient.fromFlags(f).call<DeviceView>('GET', devicePath(id), undefined, { deviceId: id });
      out(f.json ? `${JSON.stringify(d)}\n` : showText(d));
    });

  connectionOptions(
    devices
      .command('config')
      .description("set a device's telemetry and heartbeat intervals (needs the operate scope)")
      .argument('<id>', 'the device id')
      .option('--telemetry-sec <n>', 'seconds between telemetry samples, 1..86400, or "default"')
      .option('--heartbeat-sec <n>', 'seconds between heartbeats, 5..3600, or "default"')
      .option('--json', 'the answer as JSON: {"deviceId","telemetrySec","heartbeatSec","delivered"}'),
  )
    .addHelpText(
      'after',
      `
An online device gets the new intervals at once; an offline one when it next connects.
"default" puts an interval back to the gateway's default (limits.telemetrySec / heartbeatSec).

Examples:
  kiln devices config kitchen-01 --telemetry-sec 30
  kiln devices config kitchen-01 --telemetry-sec 5 --heartbeat-sec 60 --json
  kiln devices config kitchen-01 --telemetry-sec default
${CONNECTION_HELP}`,
    )
    .action(
      async (id: string, f: ConnectionFlags & { telemetrySec?: string; heartbeatSec?: string; json?: boolean }) => {
        checkId(id);
        if (f.telemetrySec === undefined && f.heartbeatSec === undefined)
          throw new UsageError('NOTHING_TO_SET', 'give --telemetry-sec, --heartbeat-sec or both', {
            hint: 'kiln devices config ID --telemetry-sec 30',
          });
        const r = await setDeviceConfig(GatewayClient.fromFlags(f), id, {
          ...(f.telemetrySec !== undefined
            ? { telemetrySec: intervalFlag('--telemetry-sec', f.telemetrySec, 1, 86_400) }
            : {}),
          ...(f.heartbeatSec !== undefined
            ? { heartbeatSec: intervalFlag('--heartbeat-sec', f.heartbeatSec, 5, 3600) }
            : {}),
        });
        out(
          f.json
            ? `${JSON.stringify(r)}\n`
            : `${id}: telemetry every ${r.telemetrySec} s, heartbeat every ${r.heartbeatSec} s (${
                r.delivered ? 'sent to the device now' : 'applied when it next connects'
              })\n`,
        );
      },
    );

  connectionOptions(
    devices
      .command('revoke')
      .description('revoke a device: its session closes and it cannot log in again (needs the admin scope)')
      .argument('<id>', 'the device id')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'print the revoked device as JSON'),
  )
    .addHelpText(
      'after',
      `
A revoked device comes back only with a new key (kiln devices rotate, by an admin).

Examples:
  kiln devices revoke kitchen-01
  kiln devices revoke kitchen-01 --yes --json
${CONNECTION_HELP}`,
    )
    .action(async (id: string, f: ConnectionFlags & { yes?: boolean; json?: boolean }) => {
      checkId(id);
      const client = GatewayClient.fromFlags(f);
      // Ask only about a device that exists (a typo should not be confirmed first).
      await client.call<DeviceView>('GET', devicePath(id), undefined, { deviceId: id });
      await confirm(
        `Revoke ${id} at ${client.origin}? It is disconnected and refused until its key is rotated.`,
        f.yes,
        `revoking ${id}`,
      );
      const d = await client.call<DeviceView>('POST', `${devicePath(id)}/revoke`, undefined, { deviceId: id });
      out(f.json ? `${JSON.stringify(d)}\n` : `revoked ${id}: its session is closed and its logins are refused\n`);
    });

  connectionOptions(
    devices
      .command('rotate')
      .description("replace a device's public key (also re-enables a revoked device, which needs admin)")
      .argument('<id>', 'the device id')
      .requiredOption('--key <file>', 'the new public key: a JWK (JSON) or PEM file, P-256')
      .option('-y, --yes', 'do not ask for confirmation')
      .option('--json', 'print the device as JSON'),
  )
    .addHelpText(
      'after',
      `
The device's current session is closed; it logs in again with the new key.

Examples:
  kiln devices rotate kitchen-01 --key kitchen-01.pub.jwk
  kiln devices rotate kitchen-01 --key kitchen-01.pub.pem --yes
${CONNECTION_HELP}`,
    )
    .action(async (id: string, f: ConnectionFlags & { key: string; yes?: boolean; json?: boolean }) => {
      checkId(id);
      const publicKey = readPublicKey(f.key);
      const client = GatewayClient.fromFlags(f);
      const before = await client.call<DeviceView>('GET', devicePath(id), undefined, { deviceId: id });
      await confirm(
        `Rotate the key of ${id} (${before.state}) at ${client.origin}? Its session closes; only the new key logs in.`,
        f.yes,
        `rotating the key of ${id}`,
      );
      const d = await client.call<DeviceView>('POST', `${devicePath(id)}/rotate-key`, { publicKey }, { deviceId: id });
      out(f.json ? `${JSON.stringify(d)}\n` : `rotated the key of ${id} (now ${d.state}, x=${publicKey.x})\n`);
    });
}
