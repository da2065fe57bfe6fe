/**
 * One request to the gateway's REST API (/api/v1/openapi.json) as every Kiln client
 * makes it: JSON in and out, the API key as a bearer token in the Authorization header
 * (never in the URL), TLS checked against the CA given (or the system's), bounded by a
 * timeout. Any HTTP status resolves; what is an error is the caller's call, and so is the
 * wording of a network failure (it rejects with the socket's own Error).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface GatewayRequest {
  /** The gateway's REST origin, e.g. https://127.0.0.1:8443 */
  baseUrl: string;
  method: string;
  path: string;
  apiKey: string;
  /** PEM of the CA to trust instead of the system's (the gateway's development CA). */
  ca?: string | Buffer | undefined;
  body?: unknown;
  timeoutMs: number;
}

export interface GatewayReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON; the text itself when it is not JSON; undefined when empty. */
  json: unknown;
}

export function gatewayRequest(r: GatewayRequest): Promise<GatewayReply> {
  const url = new URL(r.path, r.baseUrl);
  const data = r.body === undefined ? undefined : JSON.stringify(r.body);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: r.method,
        ...(r.ca ? { ca: r.ca } : {}),
        headers: {
          authorization: `Bearer ${r.apiKey}`,
          accept: 'application/json',
          ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        },
        timeout: r.timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${r.timeoutMs / 1000} s`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}
