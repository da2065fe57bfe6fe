/**
 * Improv Serial client (formats.md §1, SPEC §2.2): current state, device info, scan,
 * Wi-Fi settings with their errors, and the provisioned URL. Never logs the PSK.
 */
import {
  decodeImprovRpcResult,
  ExitCode,
  encodeImprovFrame,
  encodeImprovRpcCommand,
  encodeWifiSettings,
  ImprovCommand,
  ImprovErrorCode,
  type ImprovFrame,
  ImprovState,
  ImprovType,
  KilnError,
} from '@kiln/protocol';
import type { SerialLink } from './link.ts';

export const IMPROV_STATE_NAMES: Record<number, string> = {
  [ImprovState.STOPPED]: 'stopped',
  [ImprovState.AWAITING_AUTHORIZATION]: 'awaiting authorization',
  [ImprovState.AUTHORIZED]: 'ready',
  [ImprovState.PROVISIONING]: 'provisioning',
  [ImprovState.PROVISIONED]: 'provisioned',
};

export const IMPROV_ERROR_NAMES: Record<number, string> = {
  [ImprovErrorCode.INVALID_RPC]: 'invalid RPC packet',
  [ImprovErrorCode.UNKNOWN_RPC]: 'unknown RPC command',
  [ImprovErrorCode.UNABLE_TO_CONNECT]: 'unable to connect',
  [ImprovErrorCode.NOT_AUTHORIZED]: 'not authorized',
  [ImprovErrorCode.BAD_HOSTNAME]: 'bad hostname',
  [ImprovErrorCode.UNKNOWN]: 'unknown error',
};

export interface ImprovDeviceInfo {
  firmware: string;
  version: string;
  chip: string;
  name: string;
}

export interface ScannedNetwork {
  ssid: string;
  rssi: number;
  secured: boolean;
}

const isResult = (cmd: number) => (f: ImprovFrame) => f.type === ImprovType.RPC_RESULT && f.data[0] === cmd;
const isError = (f: ImprovFrame) => f.type === ImprovType.ERROR_STATE && f.data[0] !== ImprovErrorCode.NONE;

export class ImprovClient {
  constructor(
    private readonly link: SerialLink,
    private readonly timeoutMs = 3000,
  ) {}

  private async send(command: number, payload: Uint8Array = Buffer.alloc(0)): Promise<void> {
    const frame = encodeImprovFrame(ImprovType.RPC_COMMAND, encodeImprovRpcCommand(command, payload));
    await this.link.write(Buffer.concat([frame, Buffer.from('\n')]));
  }

  private improvError(f: ImprovFrame, what: string): KilnError {
    const code = f.data[0] ?? ImprovErrorCode.UNKNOWN;
    const name = IMPROV_ERROR_NAMES[code] ?? `error 0x${code.toString(16)}`;
    return new KilnError(`improv-${name.replaceAll(' ', '-')}`, `Improv: ${what}: the device reports "${name}"`, {
      exitCode: ExitCode.DEVICE,
      hint:
        code === ImprovErrorCode.UNABLE_TO_CONNECT
          ? 'check the SSID and the Wi-Fi password (KILN_WIFI_PSK, --psk-file or the prompt) and that the network is in range; the device is still provisionable: run kiln provision again'
          : undefined,
    });
  }

  /** The Improv state; waits until the device answers (it may still be booting). */
  async currentState(waitMs = this.timeoutMs): Promise<{ state: number; name: string; url?: string }> {
    const until = Date.now() + waitMs;
    for (;;) {
      const got = this.link.waitImprov(
        (f) => f.type === ImprovType.CURRENT_STATE,
        500,
        'Improv "request current state"',
      );
      await this.send(ImprovCommand.GET_CURRENT_STATE);
      try {
        const f = await got;
        const state = f.data[0] ?? 0;
        let url: string | undefined;
        if (state === ImprovState.PROVISIONED) {
          url = await this.link
            .waitImprov(isResult(ImprovCommand.GET_CURRENT_STATE), 300, 'the provisioned URL')
            .then((r) => decodeImprovRpcResult(r.data).strings[0] || undefined)
            .catch(() => undefined);
        }
        return { state, name: IMPROV_STATE_NAMES[state] ?? `0x${state.toString(16)}`, ...(url ? { url } : {}) };
      } catch (e) {
        if (Date.now() >= until) throw e;
      }
    }
  }

  async deviceInfo(): Promise<ImprovDeviceInfo> {
    const r = this.link.waitImprov(
      (f) => isResult(ImprovCommand.GET_DEVICE_INFO)(f) || isError(f),
      this.timeoutMs,
      'Improv "device info"',
    );
    await this.send(ImprovCommand.GET_DEVICE_INFO);
    const f = await r;
    if (f.type === ImprovType.ERROR_STATE) throw this.improvError(f, 'device info');
    const [firmware = '', version = '', chip = '', name = ''] = decodeImprovRpcResult(f.data).strings;
    return { firmware, version, chip, name };
  }

  /** The networks the device sees, strongest first. */
  async scan(timeoutMs = 10_000): Promise<ScannedNetwork[]> {
    const networks: ScannedNetwork[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const next = (): void => {
        this.link
          .waitImprov((f) => isResult(ImprovCommand.GET_WIFI_NETWORKS)(f) || isError(f), timeoutMs, 'Improv "scan"')
          .then((f) => {
            if (f.type === ImprovType.ERROR_STATE) return reject(this.improvError(f, 'scan'));
            const [ssid, rssi, auth] = decodeImprovRpcResult(f.data).strings;
            if (ssid === undefined) return resolve();
            networks.push({ ssid, rssi: Number(rssi), secured: auth === 'YES' });
            next();
          }, reject);
      };
      next();
    });
    done.catch(() => {}); // given up on if the send fails (SerialLink.wait says why)
    await this.send(ImprovCommand.GET_WIFI_NETWORKS);
    await done;
    return networks.sort((a, b) => b.rssi - a.rssi);
  }

  /** Sends the Wi-Fi settings; resolves with the URL the device reports once provisioned. */
  async sendWifi(ssid: string, psk: string, timeoutMs = 30_000): Promise<{ url: string | undefined }> {
    const outcome = this.link.waitImprov(
      (f) => isError(f) || (f.type === ImprovType.CURRENT_STATE && f.data[0] === ImprovState.PROVISIONED),
      timeoutMs,
      `Improv "send Wi-Fi settings" (connecting to "${ssid}")`,
    );
    const url = this.link
      .waitImprov(isResult(ImprovCommand.WIFI_SETTINGS), timeoutMs, 'the provisioned URL')
      .then((r) => decodeImprovRpcResult(r.data).strings[0] || undefined)
      .catch(() => undefined);
    await this.send(ImprovCommand.WIFI_SETTINGS, encodeWifiSettings(ssid, psk).subarray(2));
    const f = await outcome;
    if (f.type === ImprovType.ERROR_STATE) throw this.improvError(f, `Wi-Fi "${ssid}"`);
    return { url: await Promise.race([url, new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]) };
  }
}
