/**
 * The operator side of the gateway's REST API as suites need it (companion's
 * /api/v1/openapi.json): list and show devices, revoke one, read stored telemetry, and
 * read a Prometheus metric from /metrics. The API key goes in the Authorization header
 * only; TLS is checked against the bench gateway's CA.
 */

import { gatewayRequest } from '@kiln/companion/client';
import { ExitCode, KilnError } from '@kiln/protocol';
import type { PublicJwk } from '@kiln/provisioning';

/** A device as GET /api/v1/devices/:id shows it. */
export interface DeviceView {
  id: string;
  state: 'registered' | 'online' | 'offline' | 'revoked';
  online: boolean;
  publicKey: PublicJwk;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
  keyRotatedAt: number | null;
  chip: string | null;
  mac: string | null;
  firmware: unknown;
  /** The boot id of the device's last hello. */
  bootId: string | null;
}

/** A stored sample (GET /api/v1/devices/:id/telemetry, raw). */
export interface StoredSample {
  bootId: string;
  seq: number;
  ts: number;
  metrics: Record<string, number>;
}

const TIMEOUT_MS = 10_000;

export class GatewayRest {
  constructor(
    /** https://host:port */
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly ca: string | undefined,
  ) {}

  /** One request; resolves with any HTTP status (callers decide what is an error). */
  async request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    try {
      const r = await gatewayRequest({
        baseUrl: this.baseUrl,
        method,
        path,
        apiKey: this.apiKey,
        ca: this.ca,
        body,
        timeoutMs: TIMEOUT_MS,
      });
      return { status: r.status, text: r.text };
    } catch (err) {
      const e = err as Error;
      throw new KilnError('GATEWAY_UNREACHABLE', `${method} ${path}: cannot reach ${this.baseUrl}: ${e.message}`, {
        hint: 'is the bench gateway running (a restart in progress?) and is its CA the one the bench gives?',
        exitCode: ExitCode.SERVER,
        cause: e,
      });
    }
  }

  /** A request that must answer `ok` (200 by default); its JSON body. Throws: GATEWAY_HTTP with the gateway's error text. */
  async json<T>(method: string, path: string, body?: unknown, ok = 200): Promise<T> {
    const r = await this.request(method, path, body);
    if (r.status !== ok) {
      let message = r.text.slice(0, 200);
      try {
        const e = (JSON.parse(r.text) as { error?: { code?: string; message?: string } }).error;
        if (e?.message) message = `${e.code ?? ''} ${e.message}`.trim();
      } catch {
        // Not JSON: the raw text is the message.
      }
      throw new KilnError('GATEWAY_HTTP', `${method} ${path}: HTTP ${r.status}: ${message}`, {
        hint: r.status === 401 || r.status === 403 ? "the bench's API key needs the admin scope" : undefined,
        exitCode: ExitCode.SERVER,
      });
    }
    return JSON.parse(r.text) as T;
  }

  /** Every device the gateway knows (all pages). */
  async devices(): Promise<DeviceView[]> {
    const out: DeviceView[] = [];
    let after: string | null = null;
    do {
      const page: { devices: DeviceView[]; next: string | null } = await this.json(
        'GET',
        `/api/v1/devices?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      );
      out.push(...page.devices);
      after = page.next;
    } while (after);
    return out;
  }

  revoke(deviceId: string): Promise<DeviceView> {
    return this.json('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/revoke`);
  }

  /** Raw stored samples of the device, oldest first (by the device's timestamp), at most `limit`. */
  async telemetry(deviceId: string, options: { from?: number; limit?: number } = {}): Promise<StoredSample[]> {
    const q = `from=${options.from ?? 0}&limit=${options.limit ?? 10_000}`;
    const r: { points: StoredSample[] } = await this.json(
      'GET',
      `/api/v1/devices/${encodeURIComponent(deviceId)}/telemetry?${q}`,
    );
    return r.points;
  }

  /** A Prometheus counter or gauge on /metrics: the sum of the series whose labels include `labels` (0 if none yet). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const r = await this.request('GET', '/metrics');
    if (r.status !== 200) throw new KilnError('GATEWAY_HTTP', `GET /metrics: HTTP ${r.status}`);
    return metricValue(r.text, name, labels);
  }
}

/** Sums `name{labels…} value` lines of a Prometheus text exposition whose labels include `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map(
      [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}
