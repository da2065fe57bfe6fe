/**
 * The boards `kiln up` brings up, one pipeline each: a virtual board started (or a
 * bench's real port resolved), its port opened as a HIL `Dut` (serial log to a file,
 * the bench's reset method), the firmware flashed and verified, then provisioned:
 * Wi-Fi over Improv, gateway URL and CA over Kiln RPC, a key generated on the device,
 * registration with the enroll-scoped key, and the wait until the gateway has it online.
 */
import { join } from 'node:path';
import { type RunningBoard, startBoard } from '@kiln/hardware';
import type { ProvisionSummary } from '@kiln/provisioning';
import { Dut, type DutSpec, type PortSpec, type ResetMethod, resolvePort } from '@kiln/test';
import type { UpDataDir } from './data-dir.ts';
import type { UpOptions } from './options.ts';

export interface MemberSpec {
  name: string;
  chip: string;
  /** The build dir flashed to it. */
  firmware: string;
  port: PortSpec;
  reset: ResetMethod;
  baud: number;
}

/** Where a member is in its bring-up; after provisioning the gateway's view (online/offline/revoked) takes over. */
export type Phase = 'starting' | 'flashing' | 'provisioning' | 'online' | 'offline' | 'revoked' | 'failed';

/** What `--boards N` means: N virtual boards of one chip, running the host build. */
export function membersOf(o: UpOptions): MemberSpec[] {
  if (o.bench) return o.bench.duts.map((d: DutSpec) => ({ ...d }));
  return Array.from({ length: o.boards }, (_, i) => ({
    name: `board-${i + 1}`,
    chip: o.chip,
    firmware: o.firmware,
    port: { kind: 'virtual' } as const,
    reset: { kind: 'auto' } as const,
    baud: 115200,
  }));
}

export interface BringUpContext {
  dirs: UpDataDir;
  hostBuild: string;
  /** The virtual boards' telemetry interval until the gateway's welcome sets it (the same). */
  telemetryMs: number;
  wifi: { ssid: string; psk: string };
  gateway: { deviceUrl: string; caPem: string | undefined };
  /** The enroll-scoped key: registers the device and reads its status, nothing more. */
  enrollKey: string;
  onPhase(m: Member, phase: Phase, detail?: string): void;
  onStep(m: Member, step: string): void;
}

/** One board of the run: its pipeline's state and what it holds open. */
export class Member {
  phase: Phase = 'starting';
  board: RunningBoard | undefined;
  dut: Dut | undefined;
  port: string | undefined;
  summary: ProvisionSummary | undefined;
  error: unknown;
  #closing: Promise<void> | undefined;

  constructor(readonly spec: MemberSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get logFile(): string | undefined {
    return this.dut?.logFile;
  }

  /** Starts or finds the board and opens its port. Returns the port it listens on / was reached at. */
  async start(ctx: BringUpContext): Promise<string> {
    const s = this.spec;
    if (s.port.kind === 'virtual') {
      this.board = await startBoard({
        chip: s.chip,
        flash: join(ctx.dirs.boards, `${s.name}.bin`),
        firmware: {
          appBuilds: [ctx.hostBuild],
          // The simulated network the device is provisioned for; kiln-device gets it in its environment.
          wifi: [ctx.wifi],
          // Reconnect quickly: after a restart a board first tries the gateway URL of the last run.
          // The first sample comes on the device's own clock, before the gateway's welcome sets it.
          appArgs: ['--backoff-base-ms', '200', '--backoff-cap-ms', '2000', '--telemetry-ms', String(ctx.telemetryMs)],
          rebootDelayMs: 50,
        },
      });
      this.port = this.board.url;
    } else this.port = await resolvePort(s);
    this.dut = await Dut.open({
      name: s.name,
      port: this.port,
      logFile: join(ctx.dirs.logs, `${s.name}.log`),
      reset: s.reset,
      baud: s.baud,
      provisionDefaults: {
        ssid: ctx.wifi.ssid,
        psk: ctx.wifi.psk,
        gateway: ctx.gateway.deviceUrl,
        ...(ctx.gateway.caPem ? { ca: ctx.gateway.caPem } : {}),
        apiKey: ctx.enrollKey,
      },
    });
    return this.port;
  }

  /** Flashes (regions that already match are skipped), then provisions until online. */
  async bringUp(ctx: BringUpContext): Promise<ProvisionSummary> {
    const dut = this.dut;
    if (!dut) throw new Error('Member.bringUp before start');
    ctx.onPhase(this, 'flashing', this.spec.firmware);
    const flashed = await dut.flash(this.spec.firmware);
    const written = flashed.regions.filter((r) => !r.skipped).length;
    ctx.onStep(
      this,
      `flashed ${flashed.chip}: ${written} of ${flashed.regions.length} regions written, all verified${
        written < flashed.regions.length ? ' (the others already matched)' : ''
      }`,
    );
    ctx.onPhase(this, 'provisioning');
    this.summary = await dut.provision({ onStep: (step) => ctx.onStep(this, step) });
    return this.summary;
  }

  /** Closes the port, then stops the board; resolves once its kiln-device has exited. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.dut?.close().catch(() => {});
      await this.board?.close().catch(() => {});
    })();
    return this.#closing;
  }
}
