/**
 * A virtual ESP32 DevKit: a chip personality, its SPI flash file, the USB-UART bridge
 * with the DTR/RTS auto-reset circuit, the ROM (download mode: the serial loader;
 * flash boot: the ROM's boot lines, then a pluggable boot stage). Servers (RFC 2217,
 * raw TCP) or in-process code reach it through connect(), which hands out the one
 * serial port the board has.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AutoResetCircuit } from './auto-reset.ts';
import { type BootStage, idleBootStage, type RunningStage } from './boot/boot-stage.ts';
import { type BootMode, type Chip, createChip, type MacAddress, parseMac, type ResetReason } from './chips/index.ts';
import { FlashChip } from './flash/flash-chip.ts';
import { SpiNor } from './flash/spi-nor.ts';
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
  /** What runs when the chip boots from flash; default: nothing (idle). */
  bootStage?: BootStage;
  /** See auto-reset.ts; default 150 ms. */
  strapWindowMs?: number;
  /**
   * Power on in download mode, as with the BOOT button held: for hosts that cannot
   * reset the chip (socket://). The button is released once the chip is up, so the
   * next reset boots from flash.
   */
  powerOnInDownloadMode?: boolean;
}

/** reset: EN held low; strapping: EN just rose; download: ROM loader; stub: flasher stub; app: booted from flash. */
export type BoardState = 'reset' | 'strapping' | 'download' | 'stub' | 'app';

export interface BoardEvent {
  /** reset: EN went low; boot: the chip started; fault: a bug in the emulation (answered as an error). */
  type: 'reset' | 'boot' | 'fault';
  mode?: BootMode;
  reason?: ResetReason;
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
    this.#bootStage = options.bootStage ?? idleBootStage;
    this.#bridge = new UartBridge({
      setLines: (lines) => this.#circuit.set(lines),
      receive: (data) => this.#receive(data),
    });
    this.#circuit = new AutoResetCircuit(
      { reset: () => this.#reset(), boot: (mode) => this.#boot(mode, 'power-on') },
      options.strapWindowMs === undefined ? {} : { strapWindowMs: options.strapWindowMs },
    );
    this.#circuit.powerOn({ bootButton: options.powerOnInDownloadMode ?? false });
  }

  get state(): BoardState {
    if (this.#circuit.state !== 'running') return this.#circuit.state;
    if (this.#loader) return this.#loader.stub ? 'stub' : 'download';
    return 'app';
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

  /** Stops the chip and closes the flash file (fsync first). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#circuit.dispose();
    this.#stopRunning();
    if (this.#ownsFlash) this.flash.close();
  }

  #emit(event: BoardEvent): void {
    for (const l of this.#listeners) l(event);
  }

  #reset(): void {
    this.#stopRunning();
    this.#emit({ type: 'reset' });
  }

  #boot(mode: BootMode, reason: ResetReason): void {
    if (this.#closed) return;
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
        internalError: (error) => this.#emit({ type: 'fault', error }),
      });
    } else {
      this.#runApp();
    }
    this.#emit({ type: 'boot', mode, reason });
  }

  #runApp(): void {
    this.#stopRunning();
    this.#stage = this.#bootStage.start({
      chip: this.chip,
      flash: this.flash,
      write: (data) => this.#bridge.transmit(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)),
      setBaud: (baud) => this.#bridge.setChipBaud(baud),
    });
  }

  #receive(data: Buffer): void {
    if (this.#loader) this.#loader.receive(data);
    else this.#stage?.receive?.(data);
  }

  #stopRunning(): void {
    this.#loader?.stop();
    this.#loader = undefined;
    this.#stage?.stop();
    this.#stage = undefined;
  }
}

function resolveMac(options: VirtualBoardOptions, flash: FlashChip): MacAddress {
  if (typeof options.mac === 'string') return parseMac(options.mac);
  if (options.mac) return options.mac;
  const tail = flash.path ? createHash('sha256').update(flash.path).digest() : randomBytes(3);
  const oui = createChip(options.chip, [0, 0, 0, 0, 0, 0]).macOui;
  return [oui[0], oui[1], oui[2], tail[0] ?? 0, tail[1] ?? 0, tail[2] ?? 0];
}
