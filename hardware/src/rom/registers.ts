/**
 * The memory-mapped registers READ_REG and WRITE_REG reach: the chip's constants
 * (magic value, eFuse words), a few live ones (GPIO strapping, UART clock divider),
 * the SPI controller that runs flash commands, and RAM written by MEM_DATA.
 * Anything else reads as last written, or 0.
 */
import type { BootMode, Chip } from '../chips/chip.ts';
import type { SpiNor } from '../flash/spi-nor.ts';
import type { Ram } from './ram.ts';
import { SpiController } from './spi-controller.ts';

export interface LiveRegisters {
  bootMode(): BootMode;
  uartBaud(): number;
}

export class RegisterFile {
  readonly #chip: Chip;
  readonly #live: LiveRegisters;
  readonly #ram: Ram;
  readonly #values: Map<number, number>;
  readonly #spi: SpiController;

  constructor(chip: Chip, live: LiveRegisters, ram: Ram, flash: SpiNor) {
    this.#chip = chip;
    this.#live = live;
    this.#ram = ram;
    this.#values = chip.registers();
    this.#spi = new SpiController(
      chip.spi,
      flash,
      (a) => this.read(a),
      (a, v) => this.#values.set(a, v >>> 0),
    );
  }

  read(address: number): number {
    const a = address >>> 0;
    if (a === this.#chip.strapRegister) return this.#chip.strapValue(this.#live.bootMode());
    if (a === this.#chip.uartClkdivReg) return this.#chip.uartClkdiv(this.#live.uartBaud());
    const value = this.#values.get(a);
    if (value !== undefined) return value >>> 0;
    return this.#ram.readWord(a) ?? 0;
  }

  /** WRITE_REG semantics: only the bits in `mask` change. */
  write(address: number, value: number, mask = 0xffffffff): void {
    const a = address >>> 0;
    const next = ((this.read(a) & ~mask) | (value & mask)) >>> 0;
    this.#values.set(a, next);
    this.#spi.written(a, next);
  }
}
