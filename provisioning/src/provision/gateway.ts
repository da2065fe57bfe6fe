/**
 * The gateway's REST API as enrolment needs it (companion/src/rest/routes/devices.ts,
 * /api/v1/openapi.json): register a device with its public key, rotate the key, read
 * its status until it is online. The API key is sent as a bearer token and never
 * printed; the gateway's TLS is checked against the CA given (or the system's).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { gatewayRequest } from '@kiln/companion/client';
import { ExitCode, KilnError } from '@kiln/protocol';
import type { PublicJwk } from './rpc.ts';

export interface GatewayDevice {
  id: string;
  state: string;
  online: boolean;
  publicKey: PublicJwk;
}

/** `wss://host:port/v1/device` → `https://host:port` (ws → http). */
export function restBaseOf(deviceUrl: string): string {
  let u: URL;
  try {
    u = new URL(deviceUrl);
  } catch {
    throw new KilnError('gateway-url', `gateway URL '${deviceUrl}' is not a URL`, {
      hint: 'give the device endpoint, e.g. --gateway wss://gateway.example:8443/v1/device',
      exitCode: ExitCode.USAGE,
    });
  }
  if (u.protocol !== 'wss:' && u.protocol !== 'ws:') {
    throw new KilnError('gateway-url', `gateway URL '${deviceUrl}': wss:// (or ws:// for development)`, {
      exitCode: ExitCode.USAGE,
    });
  }
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${u.host}`;
}

/** SHA-256 fingerprint of a PEM certificate, as openssl prints it (AA:BB:…). */
export function caFingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch (e) {
    throw new KilnError('ca', `the CA file is not a PEM certificate: ${(e as Error).message}`, {
      exitCode: ExitCode.USAGE,
    });
  }
}

/** RFC 7638 thumbprint of a P-256 public key: what the summary shows instead of the key. */
export function jwkThumbprint(jwk: PublicJwk): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export class GatewayApi {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly ca?: string,
  ) {}

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    try {
      return await gatewayRequest({
        baseUrl: this.baseUrl,
        method,
        path,
        apiKey: this.apiKey,
        ca: this.ca,
        body,
        timeoutMs: 10_000,
      });
    } catch (err) {
      const e = err as Error;
      throw new KilnError('gateway-unreachable', `cannot reach the gateway at ${this.baseUrl}: ${e.message}`, {
        hint: /certificate|self.signed/i.test(e.message)
          ? "give the gateway's CA with --ca (kiln gateway prints where its dev CA is)"
          : 'is the gateway running, and is the URL right?',
        exitCode: ExitCode.SERVER,
        cause: e,
      });
    }
  }

  private fail(what: string, r: { status: number; json: unknown }): KilnError {
    const err = (r.json as { error?: { code?: string; message?: string } } | undefined)?.error;
    const message = err?.message ?? (typeof r.json === 'string' ? r.json.slice(0, 200) : `HTTP ${r.status}`);
    return new KilnError(`gateway-${r.status}`, `gateway: ${what}: ${message}`, {
      exitCode: ExitCode.SERVER,
      hint:
        r.status === 401
          ? 'the API key is missing or invalid: KILN_API_KEY or --api-key-file'
          : r.status === 403
            ? 'the API key lacks the enroll scope (create one with: kiln gateway api-key create --scope enroll)'
            : undefined,
    });
  }

  async get(id: string): Promise<GatewayDevice | undefined> {
    const r = await this.send('GET', `/api/v1/devices/${encodeURIComponent(id)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw this.fail(`reading device ${id}`, r);
    return r.json as GatewayDevice;
  }

  async register(id: string, publicKey: PublicJwk): Promise<GatewayDevice> {
    const r = await this.send('POST', '/api/v1/devices', { id, publicKey });
    if (r.status !== 201) throw this.fail(`registering device ${id}`, r);
    return r.json as GatewayDevice;
  }

  async rotateKey(id: string, publicKey: PublicJwk): Promise<GatewayDevice> {
    const r = await this.send('POST', `/api/v1/devices/${encodeURIComponent(id)}/rotate-key`, { publicKey });
    if (r.status !== 200) throw this.fail(`rotating the key of ${id}`, r);
    return r.json as GatewayDevice;
  }

  /** Polls the device until the gateway reports it online. */
  async waitOnline(id: string, timeoutMs: number): Promise<GatewayDevice> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const d = await this.get(id);
      if (d?.online) return d;
      if (Date.now() > until) {
        throw new KilnError(
          'not-online',
          `device ${id} did not come online at the gateway within ${timeoutMs / 1000} s`,
          {
            exitCode: ExitCode.SERVER,
            hint: 'kiln monitor shows the device log: TLS (CA), audience or clock problems appear there',
          },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
