/**
 * The device's UART as the provisioning client sees it: one byte stream split by
 * protocol's SerialDemux into ESP-IDF log lines, Improv Serial frames and Kiln RPC
 * lines. Opens every port form through the flasher's transports (a local path,
 * rfc2217://, socket://), or wraps any byte duplex (tests, a child's stdio).
 */
import { createTransport } from '@kiln/flasher';
import {
  decodeImprovFrame,
  decodeRpcFrame,
  ExitCode,
  type ImprovFrame,
  KilnError,
  RpcAssembler,
  type RpcFrame,
  RpcKind,
  SerialDemux,
} from '@kiln/protocol';

/** The bytes of a serial link, both ways. */
export interface ByteLink {
  write(data: Uint8Array): Promise<void> | void;
  onData(listener: (data: Uint8Array) => void): () => void;
  close(): Promise<void> | void;
}

type Waiter<T> = { match: (v: T) => boolean; resolve: (v: T) => void };

export class SerialLink {
  readonly logs: string[] = [];
  private readonly demux = new SerialDemux();
  private readonly assembler = new RpcAssembler();
  private readonly improvWaiters = new Set<Waiter<ImprovFrame>>();
  private readonly rpcWaiters = new Set<Waiter<RpcFrame>>();
  private readonly logWaiters = new Set<Waiter<string>>();
  private readonly unsubscribe: () => void;
  /** Every Improv frame and RPC message seen, for diagnostics (never their secrets: the device sends none). */
  readonly improvSeen: ImprovFrame[] = [];

  constructor(
    private readonly bytes: ByteLink,
    private readonly onLog?: (line: string) => void,
  ) {
    this.unsubscribe = bytes.onData((chunk) => {
      for (const e of this.demux.push(chunk)) {
        if (e.kind === 'log') {
          if (this.logs.length > 2000) this.logs.shift();
          this.logs.push(e.text);
          this.onLog?.(e.text);
          this.settle(this.logWaiters, e.text);
        } else if (e.kind === 'improv') {
          let frame: ImprovFrame;
          try {
            frame = decodeImprovFrame(e.frame);
          } catch {
            continue; // a damaged frame: the request times out and is retried
          }
          this.improvSeen.push(frame);
          this.settle(this.improvWaiters, frame);
        } else {
          let frame: RpcFrame;
          try {
            frame = decodeRpcFrame(e.line);
          } catch {
            continue;
          }
          if (frame.kind !== RpcKind.RESPONSE) continue;
          const r = this.assembler.push(frame);
          if (r && 'message' in r) this.settle(this.rpcWaiters, r.message);
        }
      }
    });
  }

  /** Opens a port as the user wrote it: /dev/tty…, COM3, rfc2217://host:port or socket://host:port. */
  static async open(
    port: string,
    options: { baudRate?: number; onLog?: (line: string) => void } = {},
  ): Promise<SerialLink> {
    const transport = createTransport(port);
    try {
      await transport.open(options.baudRate ?? 115200);
    } catch (e) {
      throw new KilnError('port', `cannot open ${port}: ${(e as Error).message}`, {
        hint: 'check the port (kiln ports lists local ones) and that no monitor holds it',
        exitCode: ExitCode.PORT,
        cause: e,
      });
    }
    return new SerialLink(
      { write: (d) => transport.write(d), onData: (l) => transport.onData(l), close: () => transport.close() },
      options.onLog,
    );
  }

  private settle<T>(waiters: Set<Waiter<T>>, value: T): void {
    for (const w of waiters) {
      if (w.match(value)) {
        waiters.delete(w);
        w.resolve(value);
      }
    }
  }

  private wait<T>(waiters: Set<Waiter<T>>, match: (v: T) => boolean, ms: number, what: string): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        match,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(
          new KilnError('device-timeout', `the device did not answer ${what} within ${ms} ms`, {
            hint: 'is Kiln firmware running on it? (kiln monitor shows its log); a board in download mode needs a reset',
            exitCode: ExitCode.DEVICE,
          }),
        );
      }, ms);
      timer.unref(); // a waiter left behind must not keep the process alive
      waiters.add(w);
    });
    // Callers wait before they send; when the send fails (the port closed) they give up on
    // this answer, and its timeout must not then end the process as an unhandled rejection.
    // Whoever awaits it still gets the rejection.
    answer.catch(() => {});
    return answer;
  }

  async write(data: Uint8Array): Promise<void> {
    await this.bytes.write(data);
  }

  waitImprov(match: (f: ImprovFrame) => boolean, ms: number, what: string): Promise<ImprovFrame> {
    return this.wait(this.improvWaiters, match, ms, what);
  }

  waitRpc(match: (f: RpcFrame) => boolean, ms: number, what: string): Promise<RpcFrame> {
    return this.wait(this.rpcWaiters, match, ms, what);
  }

  waitLog(re: RegExp, ms: number): Promise<string> {
    const seen = this.logs.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return this.wait(this.logWaiters, (l) => re.test(l), ms, `a log line matching ${re}`);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    await this.bytes.close();
  }
}
