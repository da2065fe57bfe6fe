/**
 * A virtual ESP32 DevKit: a chip personality, its SPI flash file, the USB-UART bridge
 * with the DTR/RTS auto-reset circuit, the ROM (download mode: the serial loader;
 * flash boot: the ROM's boot lines, then a pluggable boot stage). Servers (RFC 2217,
 * raw TCP) or in-process code reach it through connect(), which hands out the one
 * serial port the board has.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoResetCircuit } from './auto-reset.ts';
import type { BootStage, RunningStage } from './boot/boot-stage.ts';
import { type AppState, type FirmwareBootOptions, firmwareBootStage } from './boot/firmware-boot.ts';
import type { StopHow } from './boot/host-app.ts';
import { type BootMode, type Chip, createChip, type MacAddress, parseMac, type ResetReason } from './chips/index.ts';
import { FlashChip } from './flash/flash-chip.ts';
import { SpiNor } from './flash/spi-nor.ts';
import { type FaultOptions, LinkFaults } from './link/faults.ts';
import { FlashBusyClock } from './link/timing.ts';
import { RomLoader } from './rom/loader.ts';
import { type HostPort, UartBridge } from './uart-bridge.ts';

export interface VirtualBoardOptions {
  /** esp32, esp32s3 or esp32c3. */
  chip: string;
  /** The flash: a file path (created erased if missing) or a FlashChip (e.g. FlashChip.inMemory()). */
  flash: string | FlashChip;
  /** Flash size in bytes for a new file; an existing file must have this size. Default 4 MiB. */
  flashSize?: number;
  /** Base MAC; by default an Espressif OUI and three bytes derived from the flash file path. */
  mac?: string | MacAddress;
  /**
   * What runs when the chip boots from flash; default: the ROM's load, the ESP-IDF
   * second-stage bootloader and the app (firmware-boot.ts), configured by `firmware`.
   */
  bootStage?: BootStage;
  /** Host builds of the Kiln firmware the board runs as the app, and boot-loop timing. */
  firmware?: FirmwareBootOptions;
  /**
   * The timing model (link/timing.ts): UART bytes take 10 bit times at the current
   * baud rate both ways, flash erase/program take W25Q32JV typical times, and the
   * stub writes a data block after acknowledging it (rom/loader.ts). Default off.
   */
  timing?: boolean;
  /** Fault injection (link/faults.ts): bit errors, dropped bytes, a power cut. Default off. */
  faults?: FaultOptions;
  /** See auto-reset.ts; default 150 ms. */
  strapWindowMs?: number;
  /**
   * Power on in download mode, as with the BOOT button held: for hosts that cannot
   * reset the chip (socket://). The button is released once the chip is up, so the
   * next reset boots from flash.
   */
  powerOnInDownloadMode?: boolean;
}

/** reset: EN held low; strapping: EN just rose; download: ROM loader; stub: flasher stub; app: booted from flash; off: power cut (until the next reset). */
export type BoardState = 'reset' | 'strapping' | 'download' | 'stub' | 'app' | 'off';

export interface BoardEvent {
  /** reset: EN went low; boot: the chip started; app: what runs after a flash boot; power-cut: injected power loss; fault: a bug in the emulation (answered as an error). */
  type: 'reset' | 'boot' | 'app' | 'power-cut' | 'fault';
  mode?: BootMode;
  reason?: ResetReason;
  app?: AppState;
  error?: unknown;
}

export class VirtualBoard {
  readonly chip: Chip;
  readonly flash: FlashChip;
  readonly #ownsFlash: boolean;
  readonly #spiNor: SpiNor;
  readonly #bridge: UartBridge;
  readonly #circuit: AutoResetCircuit;
  readonly #bootStage: BootStage;
  readonly #listeners = new Set<(event: BoardEvent) => void>();
  #loader: RomLoader | undefined;
  #stage: RunningStage | undefined;
  #app: AppState | undefined;
  /** Counts chip runs: a stage's late callbacks are ignored once the chip has moved on. */
  #run = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Stages stopped whose processes have not exited yet; the next stage waits for them. */
  #exiting = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  #nvsDir: string | undefined;
  readonly #busy: FlashBusyClock | undefined;
  /** Link and power faults, when injected; `faults.enabled = false` gives a clean link. */
  readonly faults: LinkFaults | undefined;
  #poweredOff = false;
  #closed = false;

  constructor(options: VirtualBoardOptions) {
    this.#ownsFlash = typeof options.flash === 'string';
    const flash = typeof options.flash === 'string' ? FlashChip.open(options.flash, options.flashSize) : options.flash;
    try {
      this.chip = createChip(options.chip, resolveMac(options, flash));
    } catch (e) {
      if (this.#ownsFlash) flash.close();
      throw e;
    }
    this.flash = flash;
    this.#spiNor = new SpiNor(flash, this.chip.flashVendor);
    this.#bootStage = options.bootStage ?? firmwareBootStage(options.firmware);
    this.faults = options.faults ? new LinkFaults(options.faults) : undefined;
    if (options.timing) {
      const busy = new FlashBusyClock();
      this.#busy = busy;
      flash.onOperation = (op) => busy.add(op);
    }
    const cutAfter = options.faults?.powerCutAfterBytes;
    if (cutAfter !== undefined) flash.armPowerCut(cutAfter, () => this.#powerCut());
    this.#bridge = new UartBridge(
      {
        setLines: (lines) => this.#circuit.set(lines),
        receive: (data) => this.#receive(data),
      },
      { timing: options.timing ?? false, ...(this.faults ? { faults: this.faults } : {}) },
    );
    this.#circuit = new AutoResetCircuit(
      { reset: () => this.#reset(), boot: (mode) => this.#boot(mode, 'power-on') },
      options.strapWindowMs === undefined ? {} : { strapWindowMs: options.strapWindowMs },
    );
    this.#circuit.powerOn({ bootButton: options.powerOnInDownloadMode ?? false });
  }

  get state(): BoardState {
    if (this.#poweredOff) return 'off';
    if (this.#circuit.state !== 'running') return this.#circuit.state;
    if (this.#loader) return this.#loader.stub ? 'stub' : 'download';
    return 'app';
  }

  /** What runs after the last flash boot (undefined in reset or download mode). */
  get app(): AppState | undefined {
    return this.#app;
  }

  /** Takes the board's serial port; undefined when another host holds it. */
  connect(sink: (data: Buffer) => void, options: { baud?: number } = {}): HostPort | undefined {
    if (this.#closed) return undefined;
    return this.#bridge.attach(sink, options.baud);
  }

  /** Resolves once the loader has answered everything received so far (for tests). */
  async settled(): Promise<void> {
    await this.#loader?.settled();
  }

  on(listener: (event: BoardEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops the chip and closes the flash file (fsync first). The board takes no more
   * connections from the moment it is called; it resolves once the app's process (if
   * one runs) has exited and its NVS is back in flash.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#circuit.dispose();
    this.#stopRunning('shutdown');
    const release = () => {
      this.flash.onOperation = undefined;
      if (this.#ownsFlash) this.flash.close();
      if (this.#nvsDir) rmSync(this.#nvsDir, { recursive: true, force: true });
    };
    if (this.#exiting.size > 0) this.#closing = Promise.all(this.#exiting).then(release);
    else {
      // Nothing to wait for: the flash file is released before close() returns.
      try {
        release();
        this.#closing = Promise.resolve();
      } catch (e) {
        this.#closing = Promise.reject(e);
      }
    }
    return this.#closing;
  }

  #emit(event: BoardEvent): void {
    for (const l of this.#listeners) l(event);
  }

  #reset(): void {
    this.#stopRunning();
    this.#bridge.clearToChip();
    this.#emit({ type: 'reset' });
  }

  /** Injected power loss: the chip stops dead; the next EN rising edge powers it up again. */
  #powerCut(): void {
    this.#stopRunning();
    this.#bridge.clearToChip();
    this.#poweredOff = true;
    if (this.faults) this.faults.counts.powerCuts++;
    this.#emit({ type: 'power-cut' });
  }

  #boot(mode: BootMode, reason: ResetReason): void {
    if (this.#closed) return;
    if (this.#poweredOff) {
      if (reason === 'software') return; // nothing runs without power
      this.#poweredOff = false;
    }
    this.#stopRunning();
    this.#bridge.resetChipUart(mode === 'download');
    this.#bridge.transmit(Buffer.from(this.chip.romBanner(mode, reason), 'latin1'));
    if (mode === 'download') {
      this.#loader = new RomLoader({
        chip: this.chip,
        flash: this.flash,
        spiNor: this.#spiNor,
        transmit: (bytes) => this.#bridge.transmit(bytes),
        setBaud: (baud) => this.#bridge.setChipBaud(baud),
        uartBaud: () => this.#bridge.chipBaud,
        exit: (how) => (how === 'reboot' ? this.#boot('download', 'software') : this.#runApp()),
        ...(this.#busy ? { flashBusy: () => this.#busy?.drain() ?? Promise.resolve() } : {}),
        internalError: (error) => this.#emit({ type: 'fault', error }),
      });
    } else {
      this.#runApp();
    }
    this.#emit({ type: 'boot', mode, reason });
  }

  #runApp(): void {
    this.#stopRunning();
    const run = this.#run;
    const current = () => run === this.#run && !this.#closed;
    // Two app processes never share the NVS file: the last one must have exited first.
    if (this.#exiting.size > 0) {
      void Promise.all(this.#exiting)
        .then(() => {
          if (current()) this.#startStage(current);
        })
        .catch((error: unknown) => this.#emit({ type: 'fault', error }));
    } else this.#startStage(current);
  }

  #startStage(current: () => boolean): void {
    this.#stage = this.#bootStage.start({
      chip: this.chip,
      flash: this.flash,
      write: (data) => {
        if (current()) {
          this.#bridge.transmit(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data));
        }
      },
      setBaud: (baud) => this.#bridge.setChipBaud(baud),
      restart: () => {
        if (!current()) return;
        this.#restartTimer = setTimeout(() => this.#boot('flash', 'software'), 0);
      },
      report: (app) => {
        if (!current()) return;
        this.#app = app;
        this.#emit({ type: 'app', app });
      },
      nvsFile: (offset) => this.#nvsFile(offset),
    });
  }

  /** A host build's NVS: beside the flash file, or in a temporary folder for a flash in memory. */
  #nvsFile(offset: number): string {
    const name = `.nvs-0x${offset.toString(16)}.kv`;
    if (this.flash.path) return `${this.flash.path}${name}`;
    this.#nvsDir ??= mkdtempSync(join(tmpdir(), 'kiln-board-nvs-'));
    return join(this.#nvsDir, `flash${name}`);
  }

  #receive(data: Buffer): void {
    if (this.#poweredOff) return;
    if (this.#loader) this.#loader.receive(data);
    else this.#stage?.receive?.(data);
  }

  #stopRunning(how: StopHow = 'reset'): void {
    this.#run++;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    this.#app = undefined;
    this.#loader?.stop();
    this.#loader = undefined;
    const exiting = this.#stage?.stop(how);
    this.#stage = undefined;
    if (exiting) {
      const tracked: Promise<void> = exiting.catch(() => {}).finally(() => this.#exiting.delete(tracked));
      this.#exiting.add(tracked);
    }
  }
}

function resolveMac(options: VirtualBoardOptions, flash: FlashChip): MacAddress {
  if (typeof options.mac === 'string') return parseMac(options.mac);
  if (options.mac) return options.mac;
  const tail = flash.path ? createHash('sha256').update(flash.path).digest() : randomBytes(3);
  const oui = createChip(options.chip, [0, 0, 0, 0, 0, 0]).macOui;
  return [oui[0], oui[1], oui[2], tail[0] ?? 0, tail[1] ?? 0, tail[2] ?? 0];
}
