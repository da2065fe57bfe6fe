/**
 * Test rig: a real gateway (in-process, development TLS, 127.0.0.1) and virtual boards
 * whose flash holds the firmware host build, so they boot kiln-device as the app.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type Gateway, resolveConfig, startGateway } from '@kiln/companion';
import { parseNetworks, type RunningBoard, startBoard } from '@kiln/hardware';
import { type ChildResult, runKiln } from '@kiln/test/spawn-kiln';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const HOST_BUILD = join(ROOT, 'firmware/build-host/');

/** A flash file holding the host build at the offsets of its flasher_args.json. */
export function hostBuildFlash(path: string, size = 4 << 20): string {
  const flash = Buffer.alloc(size, 0xff);
  const args = JSON.parse(readFileSync(join(HOST_BUILD, 'flasher_args.json'), 'utf8')) as {
    flash_files: Record<string, string>;
  };
  for (const [offset, file] of Object.entries(args.flash_files)) {
    readFileSync(join(HOST_BUILD, file)).copy(flash, Number(offset));
  }
  writeFileSync(path, flash);
  return path;
}

export interface Rig {
  dir: string;
  gw: Gateway;
  caPath: string;
  deviceUrl: string;
  apiKeyFile: string;
  apiKey: string;
  boards: RunningBoard[];
  board(wifi: string, options?: { timing?: boolean; name?: string }): Promise<RunningBoard>;
  stop(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-prov-'));
  // The gateway's defaults: it accepts the origins of the URL it announces as the
  // audience devices sign for (SPEC §1.2), and devices send no Origin header.
  const gw = await startGateway(
    resolveConfig({
      dataDir: join(dir, 'gw'),
      listen: { host: '127.0.0.1', port: 0 },
      mqtt: { listen: { host: '127.0.0.1', port: 0 } },
      instanceId: `prov-${process.pid}`,
    }),
    { log: createLogger({ level: process.env.KILN_TEST_GW_LOG ?? 'silent' }) },
  );
  const deviceUrl = gw.deviceUrl;
  // Least privilege: the enroll scope registers and rotates, nothing more.
  const { key } = gw.store.apiKeys.create('provisioning', 'enroll');
  const apiKeyFile = join(dir, 'api.key');
  writeFileSync(apiKeyFile, `${key}\n`, { mode: 0o600 });
  const boards: RunningBoard[] = [];
  let n = 0;
  return {
    dir,
    gw,
    caPath: gw.caPath as string,
    deviceUrl,
    apiKeyFile,
    apiKey: key,
    boards,
    async board(wifi, options = {}) {
      const flash = hostBuildFlash(join(dir, `${options.name ?? `board-${++n}`}.bin`));
      const b = await startBoard({
        chip: 'esp32',
        flash,
        timing: options.timing ?? false,
        firmware: {
          appBuilds: [HOST_BUILD],
          wifi: parseNetworks(wifi),
          appArgs: ['--backoff-base-ms', '200', '--backoff-cap-ms', '1000'],
          rebootDelayMs: 50,
        },
      });
      boards.push(b);
      return b;
    },
    async stop() {
      await Promise.allSettled(boards.map((b) => b.close()));
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `provision <target> --ssid KilnLab --gateway … --ca … --api-key-file …` for this rig. */
export function provisionArgs(rig: Rig, target: string[], extra: string[] = []): string[] {
  const gateway = ['--gateway', rig.deviceUrl, '--ca', rig.caPath, '--api-key-file', rig.apiKeyFile];
  return ['provision', ...target, '--ssid', 'KilnLab', ...gateway, ...extra];
}

/** `kiln …` with extra environment, as a child process (the boards and the gateway live in this process). */
export function kiln(args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return runKiln(args, { env });
}
