/**
 * esptool-js 0.7.0 on Node, through a Kiln Transport (flashing.md §0-§1): the
 * connection every command starts with. It supplies what esptool-js lacks or gets
 * wrong on Node: a Web-Serial-shaped port, reset strategies that drive DTR and RTS
 * together (reset.ts), a silenced trace (esptool-js logs every trace with
 * console.log, some of it ungated), a quiet terminal, an MD5 that works around the
 * ROM-mode double-hex bug (md5.ts), and errors that say what to do next.
 */
import { ESPLoader, Transport as EsptoolTransport, type ResetConstructors } from 'esptool-js';
import { DeviceError, UsageError } from '../errors.ts';
import { ClassicReset, HardReset, type ResetStrategy, UsbJtagSerialReset } from '../reset.ts';
import { type Target, targetByEsptoolName, targetByName } from '../targets/index.ts';
import { createTransport } from '../transport/index.ts';
import type { Transport } from '../transport/types.ts';
import { WebSerialPort } from '../transport/web-serial.ts';
import { flashMd5 } from './md5.ts';

export type Before = 'default-reset' | 'usb-reset' | 'no-reset';
export type After = 'hard-reset' | 'bootloader' | 'no-reset';

export interface ConnectOptions {
  /** A path, rfc2217:// or socket:// URL, or an open-able Transport. */
  port: string | Transport;
  /** Rate after the stub is running; default 460800 (the ROM talks at 115200). */
  baud?: number;
  /** How to get into the ROM loader; default-reset, or no-reset for socket:// (it has no lines). */
  before?: Before;
  /** Reset-and-sync attempts; default 7, as esptool. */
  attempts?: number;
  /** The chip the caller expects; a different one is refused before anything is written. */
  chip?: string;
  /** esptool-js's own progress lines, for --verbose. */
  log?: (line: string) => void;
}

const ROM_BAUD = 115200;

export class FlasherSession {
  readonly loader: ESPLoader;
  readonly transport: Transport;
  readonly target: Target;
  /** "ESP32-D0WD-V3 (revision v3.1)" and the like. */
  readonly description: string;

  constructor(loader: ESPLoader, transport: Transport, target: Target, description: string) {
    this.loader = loader;
    this.transport = transport;
    this.target = target;
    this.description = description;
  }

  /** MD5 of a flash region as lowercase hex, correct with and without the stub. */
  md5(address: number, size: number): Promise<string> {
    return flashMd5(this.loader, address, size);
  }

  /**
   * hard-reset runs the app; bootloader leaves the chip in the ROM loader. Returns
   * false when the port has no lines to do it with (socket://).
   */
  async reset(after: After): Promise<boolean> {
    if (after === 'no-reset') return true;
    if (!this.transport.canSetLines) return false;
    const strategy: ResetStrategy =
      after === 'hard-reset' ? new HardReset(this.transport) : new ClassicReset(this.transport);
    await strategy.reset();
    return true;
  }

  async close(): Promise<void> {
    try {
      await this.loader.transport.disconnect();
    } catch {
      await this.transport.close();
    }
  }
}

/** Opens the port, resets into the ROM loader, syncs, identifies the chip and starts the stub. */
export async function connect(options: ConnectOptions): Promise<FlasherSession> {
  const transport = typeof options.port === 'string' ? createTransport(options.port) : options.port;
  const log = options.log ?? (() => {});
  const port = new WebSerialPort(transport);
  const espTransport = new EsptoolTransport(
    port as unknown as ConstructorParameters<typeof EsptoolTransport>[0],
    false,
  );
  // Every trace goes to console.log and an unbounded string, some of it even with tracing off.
  espTransport.trace = () => {};
  let received = 0;
  const stopCounting = transport.onData((d) => {
    received += d.length;
  });
  const loader = new ESPLoader({
    transport: espTransport,
    baudrate: transport.hasBaudRate ? (options.baud ?? 460800) : ROM_BAUD,
    romBaudrate: ROM_BAUD,
    terminal: { clean: () => {}, writeLine: (s: string) => log(s), write: (s: string) => log(s) },
    debugLogging: false,
    enableTracing: false,
    resetConstructors: resetConstructors(transport),
  });
  const before = transport.canSetLines ? (options.before ?? 'default-reset') : 'no-reset';
  try {
    await connectLoader(loader, before, options.attempts ?? 7);
    const target = targetByEsptoolName(loader.chip.CHIP_NAME);
    if (!target) {
      throw new DeviceError('CHIP_UNSUPPORTED', `Kiln does not flash the ${loader.chip.CHIP_NAME} yet`, {
        hint: "use Espressif's esptool for this chip",
      });
    }
    if (options.chip !== undefined && options.chip !== 'auto' && targetByName(options.chip) !== target) {
      throw new UsageError(
        'CHIP_MISMATCH',
        `the device on ${transport.port} is an ${target.name}, not an ${options.chip}`,
        {
          hint: `pass --chip ${target.name}, or pick the port of the ${options.chip} board`,
        },
      );
    }
    const description = await loader.chip.getChipDescription(loader);
    return new FlasherSession(loader, transport, target, description);
  } catch (e) {
    await port.close().catch(() => {});
    throw translate(e, transport, received, before);
  } finally {
    stopCounting();
  }
}

async function connectLoader(loader: ESPLoader, before: Before, attempts: number): Promise<void> {
  // main(): detect, describe, stub, baud change, flash id; its attempt count is fixed at 7.
  if (attempts !== 7) {
    const original = loader.connect.bind(loader);
    loader.connect = (mode, _attempts, detecting) => original(mode, attempts, detecting);
  }
  await loader.main(before === 'no-reset' ? 'no_reset' : before === 'usb-reset' ? 'usb_reset' : 'default_reset');
}

function resetConstructors(transport: Transport): ResetConstructors {
  const as = <T>(s: ResetStrategy) => s as unknown as T;
  return {
    classicReset: (_t, delay) => as(new ClassicReset(transport, delay)),
    hardReset: (_t, otg) => as(new HardReset(transport, otg ?? false)),
    usbJTAGSerialReset: () => as(new UsbJtagSerialReset(transport)),
  };
}

function translate(e: unknown, transport: Transport, received: number, before: Before): unknown {
  if (e instanceof Error && 'exitCode' in e) return e; // already a KilnError
  const message = e instanceof Error ? e.message : String(e);
  if (/Failed to connect/i.test(message)) {
    if (received === 0) {
      return new DeviceError('DEVICE_SILENT', `the board on ${transport.port} sent nothing at all`, {
        hint:
          before === 'no-reset'
            ? 'it must already wait in download mode (hold BOOT while resetting it); check the cable'
            : 'it looks held in reset (EN low) or unpowered: release the EN/RESET button, unplug other programs that drive RTS, check power and the cable',
        cause: e,
      });
    }
    return new DeviceError('DEVICE_NO_SYNC', `no answer from the ROM loader on ${transport.port}`, {
      hint: 'hold BOOT (GPIO0) while pressing RESET, check the cable (a data cable, not charge-only), try a lower --baud',
      cause: e,
    });
  }
  return new DeviceError('DEVICE_ERROR', `the device failed: ${message}`, {
    hint: 'check the cable and try again; a lower --baud helps on long or noisy cables',
    cause: e,
  });
}
