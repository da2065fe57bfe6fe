/**
 * A bench of devices in parallel (`kiln provision --devices devices.csv`): each row a
 * port and a device id; per-device progress and results; a JSON report written after
 * every device, so an interrupted run resumes: a device the report lists as enrolled
 * is re-verified at the gateway (online with the key it was enrolled with) and
 * skipped, never enrolled twice.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeviceId, UsageError } from '@kiln/protocol';
import { readCsvRecords } from '../nvs/csv.ts';
import { factoryProvision } from './factory.ts';
import { GatewayApi, jwkThumbprint, restBaseOf } from './gateway.ts';
import { provision } from './provision.ts';

export interface BatchDevice {
  port: string;
  deviceId: string;
  line: number;
}

export interface BatchEntry {
  port: string;
  deviceId: string;
  status: 'enrolled' | 'verified' | 'failed';
  registration?: string;
  keyThumbprint?: string;
  keys: 'device' | 'host';
  error?: { code: string; message: string };
  ms: number;
  at: string;
}

export interface BatchReport {
  gateway: string;
  devices: BatchEntry[];
}

export interface BatchOptions {
  devices: readonly BatchDevice[];
  ssid: string;
  psk: string;
  gateway: string;
  ca?: string | undefined;
  apiKey: string;
  hostKeys?: boolean;
  /** The JSON report: read first (resume), rewritten after each device. */
  reportFile?: string | undefined;
  concurrency?: number;
  onlineTimeoutMs?: number;
  onProgress?: (deviceId: string, message: string) => void;
}

/** The devices CSV: header with `port` and `device_id` columns, one device per row. */
export function parseDevicesCsv(text: string, name = 'devices CSV'): BatchDevice[] {
  const records = readCsvRecords(text);
  const header = records.shift();
  const portAt = header?.fields.indexOf('port') ?? -1;
  const idAt = header?.fields.indexOf('device_id') ?? -1;
  if (!header || portAt < 0 || idAt < 0) {
    throw new UsageError('devices-csv', `${name}: the header needs the columns port and device_id`, {
      hint: 'e.g.\n  port,device_id\n  rfc2217://127.0.0.1:4000,line-a-001',
    });
  }
  const seen = new Set<string>();
  return records.map(({ line, fields }) => {
    const port = (fields[portAt] ?? '').trim();
    const deviceId = (fields[idAt] ?? '').trim();
    if (!port) throw new UsageError('devices-csv', `${name} line ${line}: no port`);
    if (!isDeviceId(deviceId))
      throw new UsageError('devices-csv', `${name} line ${line}: device id '${deviceId}' is not valid`);
    if (seen.has(deviceId))
      throw new UsageError('devices-csv', `${name} line ${line}: device id ${deviceId} appears twice`);
    seen.add(deviceId);
    return { port, deviceId, line };
  });
}

export function readReport(file: string | undefined, gateway: string): BatchReport {
  if (!file || !existsSync(file)) return { gateway, devices: [] };
  const report = JSON.parse(readFileSync(file, 'utf8')) as BatchReport;
  if (report.gateway !== gateway) {
    throw new UsageError('report-gateway', `${file} is a report for ${report.gateway}, not ${gateway}`, {
      hint: 'give another --report file for another gateway',
    });
  }
  return report;
}

export async function provisionBatch(o: BatchOptions): Promise<BatchReport> {
  const report = readReport(o.reportFile, o.gateway);
  const save = () => {
    if (o.reportFile) writeFileSync(o.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  };
  const record = (e: BatchEntry) => {
    report.devices = [...report.devices.filter((d) => d.deviceId !== e.deviceId), e];
    save();
  };
  const api = new GatewayApi(restBaseOf(o.gateway), o.apiKey, o.ca);
  const progress = o.onProgress ?? (() => {});
  const queue = [...o.devices];
  const worker = async () => {
    for (let d = queue.shift(); d; d = queue.shift()) {
      const started = Date.now();
      const base = { port: d.port, deviceId: d.deviceId, keys: o.hostKeys ? ('host' as const) : ('device' as const) };
      const step = (m: string) => progress(d.deviceId, m);
      try {
        const before = report.devices.find((e) => e.deviceId === d.deviceId && e.status !== 'failed');
        if (before) {
          step('enrolled in an earlier run: verifying at the gateway');
          const g = await api.waitOnline(d.deviceId, o.onlineTimeoutMs ?? 30_000);
          if (before.keyThumbprint && jwkThumbprint(g.publicKey) !== before.keyThumbprint) {
            throw new UsageError('key-mismatch', `${d.deviceId}: the gateway holds another key than the one enrolled`, {
              hint: 're-provision it alone with kiln provision --port … --rotate-key',
            });
          }
          record({ ...before, status: 'verified', ms: Date.now() - started, at: new Date().toISOString() });
          step('verified: online with its enrolled key');
          continue;
        }
        let entry: BatchEntry;
        if (o.hostKeys) {
          const r = await factoryProvision(d.port, d.deviceId, o, o.apiKey, step);
          step('waiting until the gateway reports it online');
          await api.waitOnline(d.deviceId, o.onlineTimeoutMs ?? 30_000);
          entry = {
            ...base,
            status: 'enrolled',
            registration: r.registration,
            keyThumbprint: r.keyThumbprint,
            ms: 0,
            at: '',
          };
        } else {
          const s = await provision({
            port: d.port,
            deviceId: d.deviceId,
            ssid: o.ssid,
            psk: o.psk,
            gateway: o.gateway,
            ...(o.ca ? { ca: o.ca } : {}),
            apiKey: o.apiKey,
            ...(o.onlineTimeoutMs ? { onlineTimeoutMs: o.onlineTimeoutMs } : {}),
            onStep: step,
          });
          entry = { ...base, status: 'enrolled', registration: s.registration, ms: 0, at: '' };
          if (s.keyThumbprint) entry.keyThumbprint = s.keyThumbprint;
        }
        record({ ...entry, ms: Date.now() - started, at: new Date().toISOString() });
        step('online');
      } catch (e) {
        const err = e as { code?: string; message: string };
        record({
          ...base,
          status: 'failed',
          error: { code: err.code ?? 'internal', message: err.message },
          ms: Date.now() - started,
          at: new Date().toISOString(),
        });
        step(`failed: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? o.devices.length) }, worker));
  return report;
}

/** The per-device result table. */
export function formatBatch(report: BatchReport, only?: readonly BatchDevice[]): string {
  const ids = only ? new Set(only.map((d) => d.deviceId)) : undefined;
  const rows = report.devices.filter((d) => !ids || ids.has(d.deviceId));
  const w = Math.max(9, ...rows.map((r) => r.deviceId.length));
  const lines = [`  ${'device'.padEnd(w)}  ${'result'.padEnd(8)}  ${'keys'.padEnd(6)}  ${'time'.padStart(6)}  detail`];
  for (const r of rows) {
    const detail = r.error ? `${r.error.code}: ${r.error.message}` : (r.registration ?? '');
    lines.push(
      `  ${r.deviceId.padEnd(w)}  ${r.status.padEnd(8)}  ${r.keys.padEnd(6)}  ${(r.ms / 1000).toFixed(1).padStart(5)}s  ${detail}`,
    );
  }
  const failed = rows.filter((r) => r.status === 'failed').length;
  lines.push(`  ${rows.length - failed} of ${rows.length} online${failed ? `, ${failed} failed` : ''}`);
  return `${lines.join('\n')}\n`;
}
