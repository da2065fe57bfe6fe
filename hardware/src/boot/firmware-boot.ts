/**
 * The boot stage of a board with firmware: the ROM loads the second-stage bootloader
 * (rom-boot.ts), which picks and verifies the app (second-stage.ts); then the app
 * runs: a registered Kiln host build as a process (host-app.ts), anything else as a
 * "foreign app" that is described and then idles, printing nothing we could emulate.
 * A bootloader failure ends in a software reset, so the chip loops through boots as
 * a real one does; blank flash keeps the ROM printing `invalid header` until reset.
 */

import { UsageError } from '@kiln/protocol';
import type { AppDescription } from '@kiln/protocol/formats/app-image';
import { formatMac } from '../chips/chip.ts';
import type { BootContext, BootStage, RunningStage } from './boot-stage.ts';
import { HostApp, type HostBuild, HostBuilds } from './host-app.ts';
import { NvsHandover } from './nvs-handover.ts';
import { romFlashBoot } from './rom-boot.ts';
import { runSecondStage } from './second-stage.ts';
import { formatNetworks, type SimulatedNetwork } from './simulated-wifi.ts';

/** What the chip is doing after a flash boot. */
export type AppState =
  | { kind: 'rom-halted'; reason: 'invalid-header' | 'bad-bootloader' }
  | { kind: 'boot-failed' }
  | { kind: 'foreign'; partitionOffset: number; description: AppDescription | undefined }
  | { kind: 'host'; partitionOffset: number; description: AppDescription; build: HostBuild; pid: number | undefined }
  | { kind: 'host-exited'; code: number | null; signal: string | null };

export interface FirmwareBootOptions {
  /** Directories of Kiln firmware host builds (each holding kiln-device), or a HostBuilds. */
  appBuilds?: readonly string[] | HostBuilds;
  /**
   * The Wi-Fi networks the host app's simulated radio sees. They reach kiln-device
   * through its environment, never its command line (simulated-wifi.ts says why).
   */
  wifi?: readonly SimulatedNetwork[];
  /** More arguments for kiln-device (e.g. ['--telemetry-ms', '1000']); `--wifi` is refused: use `wifi`. */
  appArgs?: readonly string[];
  /** Time from a bootloader error to the software reset that boots again. Default 500 ms. */
  rebootDelayMs?: number;
  /** How often the ROM repeats `invalid header` on blank flash. Default 500 ms. */
  romRetryMs?: number;
}

export function firmwareBootStage(options: FirmwareBootOptions = {}): BootStage {
  const builds = options.appBuilds instanceof HostBuilds ? options.appBuilds : new HostBuilds(options.appBuilds ?? []);
  const rebootDelay = options.rebootDelayMs ?? 500;
  const romRetry = options.romRetryMs ?? 500;
  if (options.appArgs?.includes('--wifi')) {
    throw new UsageError(
      'BOARD_WIFI_ARGV',
      "the app's networks are not passed as --wifi: every user's ps would show the password",
      {
        hint: 'give them as the firmware option wifi: [{ ssid, psk }] (kiln board: --app-wifi-file FILE or KILN_WIFI)',
      },
    );
  }
  const wifi = options.wifi ?? [];
  formatNetworks(wifi); // a bad network fails when the board is made, not at its first boot
  return {
    start(ctx: BootContext): RunningStage {
      const rom = romFlashBoot(ctx.chip, ctx.flash);
      ctx.write(rom.text);
      if (!rom.ok) {
        ctx.report?.({ kind: 'rom-halted', reason: rom.repeat ? 'invalid-header' : 'bad-bootloader' });
        const line = rom.repeat;
        const timer = line ? setInterval(() => ctx.write(line), romRetry) : undefined;
        return { stop: () => clearInterval(timer) };
      }
      const boot = runSecondStage(ctx.chip, ctx.flash, rom.bootloader);
      ctx.write(boot.text);
      if (boot.outcome === 'reset') {
        ctx.report?.({ kind: 'boot-failed' });
        const timer = setTimeout(() => ctx.restart?.(), rebootDelay);
        return { stop: () => clearTimeout(timer) };
      }
      const { app } = boot;
      const build = builds.match(app.description);
      if (!build || !app.description) {
        ctx.report?.({ kind: 'foreign', partitionOffset: app.partition.offset, description: app.description });
        return { stop: () => {} };
      }
      const description = app.description;
      const nvsFile = ctx.nvsFile?.(app.nvs?.offset ?? 0x9000) ?? 'kiln-device.nvs';
      // The NVS partition's `kiln` blobs become the app's key-value file, and go back at stop.
      const nvs = app.nvs ? new NvsHandover(ctx.flash, app.nvs, nvsFile) : undefined;
      nvs?.handOver();
      let host: HostApp | undefined;
      host = new HostApp({
        build,
        chip: ctx.chip.name,
        mac: formatMac(ctx.chip.mac),
        nvsFile,
        wifi,
        args: options.appArgs ?? [],
        output: (d) => ctx.write(d),
        exited: (code, signal) => {
          host = undefined;
          ctx.report?.({ kind: 'host-exited', code, signal });
        },
      });
      ctx.report?.({ kind: 'host', partitionOffset: app.partition.offset, description, build, pid: host.pid });
      return {
        receive: (d) => host?.write(d),
        stop: (how = 'reset') => {
          const writeBack = () => {
            try {
              nvs?.writeBack();
            } catch {
              // A power cut while writing it back: the partition keeps what was programmed.
            }
          };
          const exited = host?.stop(how);
          // A reset: the settings are what the file holds at that instant (kiln-device replaces
          // it atomically), and the flash has them before the chip runs anything else.
          // A shutdown: the process has had its chance to finish writing.
          if (how === 'reset' || !exited) {
            writeBack();
            return exited;
          }
          return exited.then(writeBack);
        },
      };
    },
  };
}
