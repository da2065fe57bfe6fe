/**
 * `kiln telemetry tail` follows live telemetry over the operator stream (/api/v1/stream,
 * subprotocol kiln.operator.v1); `kiln telemetry query` reads stored history, raw or in buckets
 * (GET /api/v1/devices/:id/telemetry). Tables for people; JSON lines (tail) or one JSON
 * document (query) with --json.
 */
import { ExitCode, isDeviceId, KilnError, UsageError } from '@kiln/protocol';
import type { Command } from 'commander';
import { iso, num, parseDuration, parseTime, table } from './format.ts';
import { CONNECTION_HELP, type ConnectionFlags, connectionOptions, GatewayClient } from './gateway-client.ts';

const out = (s: string): void => {
  process.stdout.write(s);
};
const err = (s: string): void => {
  process.stderr.write(s);
};
const collect = (v: string, prev: string[] = []) => [...prev, v];
const METRIC = /^[a-z][a-z0-9_.]{0,31}$/;

function checkDevices(ids: readonly string[]): void {
  for (const id of ids)
    if (!isDeviceId(id)) throw new UsageError('BAD_DEVICE_ID', `--device "${id}" is not a device id`);
}
function checkMetrics(names: readonly string[]): void {
  for (const m of names)
    if (!METRIC.test(m))
      throw new UsageError('BAD_METRIC', `--metric "${m}" is not a metric name`, {
        hint: 'a-z 0-9 _ . , up to 32, starting with a letter',
      });
}

type Frame = { type: string } & Record<string, unknown>;

interface TailFlags extends ConnectionFlags {
  device?: string[];
  metric?: string[];
  count?: string;
  json?: boolean;
}

async function tail(f: TailFlags): Promise<void> {
  const devices = f.device ?? [];
  const metrics = f.metric ?? [];
  checkDevices(devices);
  checkMetrics(metrics);
  let remaining = Number.POSITIVE_INFINITY;
  if (f.count !== undefined) {
    remaining = Number(f.count);
    if (!Number.isSafeInteger(remaining) || remaining < 1)
      throw new UsageError('BAD_COUNT', '--count must be a whole number 1 or more');
  }
  const client = GatewayClient.fromFlags(f);
  if (devices.length > 0) {
    // Fail early, and say which, when a named device does not exist.
    for (const id of devices) await client.call('GET', `/api/v1/devices/${id}`, undefined, { deviceId: id });
  }
  const ws = await client.openStream();
  const watched = devices.length > 0 ? new Set(devices) : undefined;
  const width = Math.max(12, ...devices.map((d) => d.length));
  await new Promise<void>((resolve, reject) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      ws.close(1000);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Frame;
      if (m.type === 'hello') {
        ws.send(
          JSON.stringify({
            type: 'subscribe',
            devices: devices.length ? devices : ['*'],
            ...(metrics.length ? { metrics } : {}),
          }),
        );
      } else if (m.type === 'subscribed') {
        if (!f.json)
          err(`following ${devices.length ? devices.join(', ') : 'every device'} at ${client.origin} (Ctrl+C stops)\n`);
      } else if (m.type === 'telemetry') {
        if (f.json) out(`${JSON.stringify(m)}\n`);
        else {
          const values = Object.entries(m.metrics as Record<string, number>)
            .map(([k, v]) => `${k}=${num(v)}`)
            .join(' ');
          out(`${iso(m.ts as number)}  ${String(m.deviceId).padEnd(width)}  ${values}\n`);
        }
        if (--remaining <= 0) stop();
      } else if ((m.type === 'status' || m.type === 'deleted') && (!watched || watched.has(m.deviceId as string))) {
        if (f.json) out(`${JSON.stringify(m)}\n`);
        else
          err(
            `${iso(Date.now())}  ${String(m.deviceId).padEnd(width)}  ${m.type === 'deleted' ? 'was deleted' : `is ${m.state}`}\n`,
          );
      } else if (m.type === 'dropped') {
        err(`(${m.count} samples dropped: this terminal did not keep up)\n`);
      } else if (m.type === 'error') {
        reject(
          new KilnError('STREAM_REFUSED', `the gateway refused the subscription: ${m.message}`, {
            exitCode: ExitCode.USAGE,
          }),
        );
      }
    });
    ws.on('close', (code, reason) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (code === 1000 || remaining <= 0) return resolve();
      const why =
        code === 4003
          ? 'the API key was revoked'
          : code === 1001
            ? 'the gateway is shutting down'
            : `${code} ${reason.toString() || ''}`.trim();
      reject(
        new KilnError('STREAM_CLOSED', `the gateway closed the stream: ${why}`, {
          exitCode: ExitCode.SERVER,
          hint: code === 4003 ? 'check KILN_API_KEY' : 'run the command again once the gateway is back',
        }),
      );
    });
    ws.on('error', (e) =>
      reject(new KilnError('STREAM_FAILED', `the stream failed: ${e.message}`, { exitCode: ExitCode.SERVER })),
    );
  });
}

interface QueryFlags extends ConnectionFlags {
  device: string;
  metric?: string;
  from?: string;
  to?: string;
  bucket?: string;
  limit?: string;
  json?: boolean;
}

type RawPoint = { bootId: string; seq: number; ts: number; metrics: Record<string, number> };
type ValuePoint = { bootId: string; seq: number; ts: number; value: number | null };
type BucketPoint = { t: number; count: number; min: number; max: number; avg: number };

async function query(f: QueryFlags): Promise<void> {
  checkDevices([f.device]);
  if (f.metric) checkMetrics([f.metric]);
  const now = Date.now();
  const from = parseTime(f.from ?? '1h', '--from', now);
  const to = f.to === undefined ? now + 1 : parseTime(f.to, '--to', now);
  if (to <= from) throw new UsageError('BAD_RANGE', '--to must be after --from');
  const qs = new URLSearchParams({ from: String(from), to: String(to) });
  if (f.metric) qs.set('metric', f.metric);
  if (f.bucket !== undefined) {
    const ms = parseDuration(f.bucket);
    if (ms === undefined || ms < 1000 || ms % 1000 !== 0)
      throw new UsageError('BAD_BUCKET', `--bucket "${f.bucket}" is not a whole number of seconds`, {
        hint: 'e.g. 60s, 5m, 1h',
      });
    if (!f.metric)
      throw new UsageError('BUCKET_NEEDS_METRIC', '--bucket needs --metric (buckets summarise one metric)');
    qs.set('bucket', String(ms / 1000));
  }
  if (f.limit !== undefined) {
    const n = Number(f.limit);
    if (!Number.isSafeInteger(n) || n < 1 || n > 10_000) throw new UsageError('BAD_LIMIT', '--limit must be 1..10000');
    qs.set('limit', String(n));
  }
  const client = GatewayClient.fromFlags(f);
  const doc = await client.call<{ points: unknown[] }>(
    'GET',
    `/api/v1/devices/${f.device}/telemetry?${qs}`,
    undefined,
    {
      deviceId: f.device,
    },
  );
  if (f.json) return out(`${JSON.stringify(doc)}\n`);
  if (doc.points.length === 0) return out(`no samples of ${f.device} between ${iso(from)} and ${iso(to)}\n`);
  if (f.bucket !== undefined) {
    const pts = doc.points as BucketPoint[];
    return out(
      table(
        ['TIME', 'COUNT', 'MIN', 'AVG', 'MAX'],
        pts.map((p) => [iso(p.t), p.count, num(p.min), num(p.avg), num(p.max)]),
      ),
    );
  }
  if (f.metric) {
    const pts = doc.points as ValuePoint[];
    return out(
      table(
        ['TIME', 'SEQ', f.metric.toUpperCase()],
        pts.map((p) => [iso(p.ts), p.seq, num(p.value)]),
      ),
    );
  }
  const pts = doc.points as RawPoint[];
  const names = [...new Set(pts.flatMap((p) => Object.keys(p.metrics)))].sort();
  out(
    table(
      ['TIME', 'SEQ', ...names.map((n) => n.toUpperCase())],
      pts.map((p) => [iso(p.ts), p.seq, ...names.map((n) => num(p.metrics[n]))]),
    ),
  );
}

export function registerTelemetryCommands(program: Command): void {
  const telemetry = program
    .command('telemetry')
    .description('device telemetry: follow it live (tail) or read the stored history (query)')
    .addHelpText(
      'after',
      `
Examples:
  kiln telemetry tail
  kiln telemetry tail --device kitchen-01 --metric temp
  kiln telemetry query --device kitchen-01 --metric temp --from 6h --bucket 5m
${CONNECTION_HELP}`,
    );

  connectionOptions(
    telemetry
      .command('tail')
      .description('follow live telemetry (and status changes, deletion) until Ctrl+C')
      .option('--device <id>', 'only this device (repeat for several)', collect)
      .option('--metric <name>', 'only this metric (repeat for several)', collect)
      .option('--count <n>', 'stop after this many samples')
      .option('--json', 'one JSON object per line: telemetry, status and deleted frames as the stream sends them'),
  )
    .addHelpText(
      'after',
      `
Samples the terminal cannot take fast enough are dropped by the gateway, newest kept, and the
count is reported on stderr.

Examples:
  kiln telemetry tail
  kiln telemetry tail --device kitchen-01 --device hall-02 --metric temp --metric wifi_rssi
  kiln telemetry tail --json | jq -c 'select(.type == "telemetry")'
${CONNECTION_HELP}`,
    )
    .action((f: TailFlags) => tail(f));

  connectionOptions(
    telemetry
      .command('query')
      .description('stored telemetry of one device: raw samples, or one metric in buckets (min/avg/max)')
      .requiredOption('--device <id>', 'the device')
      .option('--metric <name>', 'one metric')
      .option('--from <time>', 'start: ISO 8601, or how long ago (30m, 6h, 2d); default 1h')
      .option('--to <time>', 'end: ISO 8601, how long ago, or now (default)')
      .option('--bucket <duration>', 'summarise --metric per bucket: 60s, 5m, 1h')
      .option('--limit <n>', 'at most this many points (gateway default 1000)')
      .option('--json', 'the answer as one JSON document'),
  )
    .addHelpText(
      'after',
      `
Examples:
  kiln telemetry query --device kitchen-01
  kiln telemetry query --device kitchen-01 --metric temp --from 24h --bucket 15m
  kiln telemetry query --device kitchen-01 --from 2025-01-31T00:00:00Z --to 2025-02-01T00:00:00Z --json
${CONNECTION_HELP}`,
    )
    .action((f: QueryFlags) => query(f));
}
