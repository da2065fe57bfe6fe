/**
 * Drives a host-built Kiln device (firmware/build-host/kiln-device) over its stdio
 * UART: the SerialDemux splits its output into log lines, Improv frames and Kiln RPC
 * lines; requests go in with the codecs of @kiln/protocol.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeImprovFrame,
  decodeRpcFrame,
  encodeImprovFrame,
  encodeRpcMessage,
  ImprovType,
  type RpcFrame,
  RpcKind,
  SerialDemux,
} from '@kiln/protocol';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const DEVICE_BIN = join(ROOT, 'firmware', 'build-host', 'kiln-device');

/** Builds kiln-device if it is missing (the configure + build part of scripts/test-c.sh). */
export function ensureDeviceBuilt(): string {
  if (!existsSync(DEVICE_BIN)) {
    execFileSync('bash', [join(ROOT, 'scripts', 'build-firmware-host.sh')], { stdio: 'inherit' });
  }
  return DEVICE_BIN;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class HostDevice {
  readonly lines: string[] = [];
  readonly improv: { type: number; data: Buffer }[] = [];
  private readonly responses: RpcFrame[] = [];
  private readonly demux = new SerialDemux();
  private readonly proc: ChildProcessWithoutNullStreams;
  private nextId = 1;
  exited = false;

  constructor(args: string[]) {
    this.proc = spawn(ensureDeviceBuilt(), args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' },
    });
    this.proc.stdout.on('data', (chunk: Buffer) => {
      for (const e of this.demux.push(chunk)) {
        if (e.kind === 'log') this.lines.push(e.text);
        else if (e.kind === 'improv') this.improv.push(decodeImprovFrame(e.frame));
        else this.responses.push(decodeRpcFrame(e.line));
      }
    });
    this.proc.stderr.on('data', (chunk: Buffer) => {
      for (const l of chunk.toString('utf8').split('\n')) if (l) this.lines.push(`stderr: ${l}`);
    });
    this.proc.on('exit', () => {
      this.exited = true;
    });
  }

  write(bytes: Uint8Array | string): void {
    this.proc.stdin.write(bytes);
  }

  /** One Kiln RPC request; resolves with the (reassembled) response. */
  async rpc(method: number, data: Uint8Array = Buffer.alloc(0)): Promise<{ status: number; data: Buffer }> {
    const id = this.nextId++;
    for (const line of encodeRpcMessage({ kind: RpcKind.REQUEST, method, id, status: 0, data: Buffer.from(data) })) {
      this.write(line);
    }
    const frames: RpcFrame[] = [];
    await waitFor(`RPC response to method 0x${method.toString(16)}`, () => {
      for (let i = 0; i < this.responses.length; ) {
        const f = this.responses[i] as RpcFrame;
        if (f.id === id) {
          frames.push(f);
          this.responses.splice(i, 1);
        } else i++;
      }
      const last = frames[frames.length - 1];
      return last !== undefined && (last.flags & 1) === 0;
    });
    return { status: (frames[0] as RpcFrame).status, data: Buffer.concat(frames.map((f) => f.data)) };
  }

  async rpcJson(method: number): Promise<Record<string, unknown>> {
    const r = await this.rpc(method);
    return JSON.parse(r.data.toString('utf8')) as Record<string, unknown>;
  }

  sendImprov(rpcCommand: Buffer): void {
    this.write(Buffer.concat([encodeImprovFrame(ImprovType.RPC_COMMAND, rpcCommand), Buffer.from('\n')]));
  }

  async waitLine(re: RegExp, timeoutMs = 10_000): Promise<string> {
    return waitFor(`a log line matching ${re}`, () => this.lines.find((l) => re.test(l)), timeoutMs);
  }

  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}
