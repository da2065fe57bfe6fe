/**
 * @kiln/hardware: virtual ESP32 boards that esptool cannot tell from real ones at
 * the serial level, served over RFC 2217 and raw TCP.
 *
 *   const [a, b] = await startBoards([{ chip: 'esp32', flash: 'a.bin' }, { chip: 'esp32c3', flash: 'b.bin' }]);
 *   // esptool --port a.url write-flash 0x1000 bootloader.bin
 *   await Promise.all([a.close(), b.close()]);
 */
import { UsageError } from '@kiln/protocol';
import { VirtualBoard, type VirtualBoardOptions } from './board.ts';
import { startRfc2217Server } from './rfc2217/server.ts';
import { startSocketServer } from './socket-server.ts';
import { type BoardServer, checkBindAllowed, type ListenAddress, parseListen } from './tcp-listener.ts';

export interface StartBoardOptions extends VirtualBoardOptions {
  /** Where to listen; default 127.0.0.1 on a free port. */
  listen?: string | Partial<ListenAddress>;
  /** Where the raw TCP server listens; default the same host on a free port. */
  socketListen?: string | Partial<ListenAddress>;
  /** Serve RFC 2217 (default true). */
  rfc2217?: boolean;
  /** Serve raw TCP, socket:// (default false). */
  socket?: boolean;
  /** Allow a bind address other machines can reach. */
  allowPublic?: boolean;
}

export interface RunningBoard {
  readonly board: VirtualBoard;
  /** The first URL served: rfc2217:// when served, else socket://. */
  readonly url: string;
  readonly rfc2217Url: string | undefined;
  readonly socketUrl: string | undefined;
  /**
   * Stops the servers, then the chip: resolves once the app's kiln-device process has
   * exited (SIGTERM, SIGKILL after a grace period) and the flash file is fsynced and closed.
   */
  close(): Promise<void>;
}

function address(value: string | Partial<ListenAddress> | undefined, fallbackHost: string): ListenAddress {
  if (typeof value === 'string') return parseListen(value);
  return { host: value?.host ?? fallbackHost, port: value?.port ?? 0 };
}

export async function startBoard(options: StartBoardOptions): Promise<RunningBoard> {
  const rfc = options.rfc2217 ?? true;
  const raw = options.socket ?? false;
  if (!rfc && !raw) {
    throw new UsageError('BOARD_NO_SERVER', 'a board with neither RFC 2217 nor socket:// cannot be reached', {
      hint: 'keep RFC 2217, or add --socket',
    });
  }
  const main = address(options.listen, '127.0.0.1');
  const side = address(options.socketListen, main.host);
  for (const a of [main, side]) checkBindAllowed(a.host, options.allowPublic ?? false);
  const board = new VirtualBoard(options);
  const servers: BoardServer[] = [];
  const close = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await board.close();
  };
  try {
    const rfc2217 = rfc ? await startRfc2217Server(board, main) : undefined;
    if (rfc2217) servers.push(rfc2217);
    const socket = raw ? await startSocketServer(board, rfc ? side : main) : undefined;
    if (socket) servers.push(socket);
    const url = rfc2217?.url ?? socket?.url ?? '';
    return { board, url, rfc2217Url: rfc2217?.url, socketUrl: socket?.url, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Starts several boards (a bench); if one fails, those already started are stopped. */
export async function startBoards(list: readonly StartBoardOptions[]): Promise<RunningBoard[]> {
  const started: RunningBoard[] = [];
  try {
    for (const options of list) started.push(await startBoard(options));
    return started;
  } catch (e) {
    await Promise.all(started.map((b) => b.close()));
    throw e;
  }
}

export { type BoardEvent, type BoardState, VirtualBoard, type VirtualBoardOptions } from './board.ts';
export type { BootContext, BootStage, RunningStage } from './boot/boot-stage.ts';
export { idleBootStage } from './boot/boot-stage.ts';
export { type AppState, type FirmwareBootOptions, firmwareBootStage } from './boot/firmware-boot.ts';
export { type HostBuild, HostBuilds, SHUTDOWN_GRACE_MS, type StopHow } from './boot/host-app.ts';
export { formatNetworks, parseNetworks, type SimulatedNetwork, WIFI_ENV } from './boot/simulated-wifi.ts';
export {
  BOARD_CHIPS,
  type BoardChipName,
  type Chip,
  formatMac,
  isBoardChip,
  type MacAddress,
  parseMac,
} from './chips/index.ts';
export { DEFAULT_FLASH_SIZE, FlashChip, parseFlashSize } from './flash/flash-chip.ts';
export type { FaultDirection, FaultOptions } from './link/faults.ts';
export { LinkFaults } from './link/faults.ts';
export { flashBusyMs, W25Q32JV_TYPICAL, wireTimeMs } from './link/timing.ts';
export type { BoardServer, ListenAddress } from './tcp-listener.ts';
export type { HostPort } from './uart-bridge.ts';
