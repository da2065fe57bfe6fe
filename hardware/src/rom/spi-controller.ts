/**
 * The SPI controller's "user command" mode, as esptool drives it through WRITE_REG
 * (`run_spiflash_command` in esptool/loader.py): it sets the lengths in MOSI/MISO_DLEN
 * and USR1, the flags in USR, the command byte in USR2, the address in ADDR and the
 * data in W0..W15, then sets CMD bit 18 (USR) and polls until the bit clears. The
 * answer is in W0.
 */
import type { SpiRegisters } from '../chips/chip.ts';
import type { SpiNor } from '../flash/spi-nor.ts';

const SPI_CMD_USR = 1 << 18;
const SPI_USR_ADDR = 1 << 30;
const SPI_USR_MISO = 1 << 28;
const SPI_USR_MOSI = 1 << 27;
const SPI_USR_ADDR_LEN_SHIFT = 26;

export class SpiController {
  readonly #regs: SpiRegisters;
  readonly #flash: SpiNor;
  readonly #read: (address: number) => number;
  readonly #set: (address: number, value: number) => void;

  constructor(
    regs: SpiRegisters,
    flash: SpiNor,
    read: (address: number) => number,
    set: (address: number, value: number) => void,
  ) {
    this.#regs = regs;
    this.#flash = flash;
    this.#read = read;
    this.#set = set;
  }

  /** Called after every register write: a write of CMD with USR set runs the command. */
  written(address: number, value: number): void {
    const r = this.#regs;
    if (address !== r.base || (value & SPI_CMD_USR) === 0) return;
    const usr = this.#read(r.base + r.usr);
    const command = this.#read(r.base + r.usr2) & 0xff;
    const mosiBits = usr & SPI_USR_MOSI ? (this.#read(r.base + r.mosiDlen) & 0xffffff) + 1 : 0;
    const misoBits = usr & SPI_USR_MISO ? (this.#read(r.base + r.misoDlen) & 0xffffff) + 1 : 0;
    let flashAddress: number | undefined;
    if (usr & SPI_USR_ADDR) {
      const addrBits = ((this.#read(r.base + r.usr1) >>> SPI_USR_ADDR_LEN_SHIFT) & 0x3f) + 1;
      const raw = this.#read(r.base + 0x04);
      flashAddress = r.addrMsb ? raw >>> (32 - Math.min(addrBits, 32)) : raw;
    }
    const mosiBytes = Math.min(64, Math.ceil(mosiBits / 8));
    const mosi = Buffer.alloc(mosiBytes);
    for (let i = 0; i < mosiBytes; i += 4) {
      const word = Buffer.alloc(4);
      word.writeUInt32LE(this.#read(r.base + r.w0 + i) >>> 0);
      word.copy(mosi, i, 0, Math.min(4, mosiBytes - i));
    }
    const misoBytes = Math.min(64, Math.ceil(misoBits / 8));
    const miso = this.#flash.transfer(command, flashAddress, mosi, misoBytes);
    const padded = Buffer.alloc(Math.ceil(miso.length / 4) * 4);
    miso.copy(padded);
    for (let i = 0; i < padded.length; i += 4) this.#set(r.base + r.w0 + i, padded.readUInt32LE(i));
    this.#set(r.base, value & ~SPI_CMD_USR); // done
  }
}
