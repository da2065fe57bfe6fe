/** Kiln RPC client (SPEC §2.3): framed, checksummed, chunked requests over the serial link. */
import { ExitCode, encodeRpcMessage, KilnError, RpcKind, RpcMethod, RpcStatus, rpcStatusName } from '@kiln/protocol';
import type { SerialLink } from './link.ts';

export interface DeviceInfo {
  deviceId: string | null;
  mac: string;
  chip: string;
  firmware: { name: string; version: string };
  state: string;
}

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(RpcMethod).map(([k, v]) => [v, k]));

export class RpcClient {
  private nextId = 1;

  constructor(
    private readonly link: SerialLink,
    private readonly timeoutMs = 5000,
  ) {}

  /** One request; resolves with the response data, throws a KilnError for a non-OK status. */
  async call(method: number, data: Uint8Array = Buffer.alloc(0), attempts = 2): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      const id = this.nextId;
      this.nextId = (this.nextId % 0xffff) + 1;
      const answer = this.link.waitRpc(
        (f) => f.id === id && f.method === method,
        this.timeoutMs,
        `RPC ${NAMES[method]}`,
      );
      for (const line of encodeRpcMessage({ kind: RpcKind.REQUEST, method, id, status: 0, data: Buffer.from(data) })) {
        await this.link.write(line);
      }
      try {
        const r = await answer;
        if (r.status !== RpcStatus.OK) {
          const status = rpcStatusName(r.status);
          throw new KilnError(
            `rpc-${status.toLowerCase().replaceAll('_', '-')}`,
            `RPC ${NAMES[method]}: the device answered ${status}`,
            {
              exitCode: ExitCode.DEVICE,
              hint: r.status === RpcStatus.NO_KEY ? 'generate a key first (kiln provision does)' : undefined,
            },
          );
        }
        return r.data;
      } catch (e) {
        if (attempt >= attempts || (e as KilnError).code !== 'device-timeout') throw e;
      }
    }
  }

  private async json<T>(method: number): Promise<T> {
    const data = await this.call(method);
    try {
      return JSON.parse(data.toString('utf8')) as T;
    } catch {
      throw new KilnError('rpc-bad-json', `RPC ${NAMES[method]}: the answer is not JSON`, {
        exitCode: ExitCode.DEVICE,
      });
    }
  }

  getInfo(): Promise<DeviceInfo> {
    return this.json(RpcMethod.GET_INFO);
  }

  getStatus(): Promise<Record<string, unknown> & { state: string; reason?: string; wifi?: string; gateway?: string }> {
    return this.json(RpcMethod.GET_STATUS);
  }

  async setGateway(url: string): Promise<void> {
    await this.call(RpcMethod.SET_GATEWAY, Buffer.from(url, 'utf8'));
  }

  /** Installs the CA the device trusts for the gateway; an empty PEM clears it. */
  async setCaCert(pem: string): Promise<void> {
    await this.call(RpcMethod.SET_CA_CERT, Buffer.from(pem, 'utf8'));
  }

  async setDeviceId(id: string): Promise<void> {
    await this.call(RpcMethod.SET_DEVICE_ID, Buffer.from(id, 'utf8'));
  }

  /** Has the device make its key (replace: a new one even if it has one); returns the public JWK. */
  async generateKey(replace: boolean): Promise<PublicJwk> {
    const data = await this.call(RpcMethod.GENERATE_KEY, Buffer.from([replace ? 1 : 0]), 1);
    return JSON.parse(data.toString('utf8')) as PublicJwk;
  }

  getPublicKey(): Promise<PublicJwk> {
    return this.json(RpcMethod.GET_PUBLIC_KEY);
  }

  async factoryReset(): Promise<void> {
    await this.call(RpcMethod.FACTORY_RESET);
  }

  async reboot(): Promise<void> {
    await this.call(RpcMethod.REBOOT, Buffer.alloc(0), 1);
  }
}
