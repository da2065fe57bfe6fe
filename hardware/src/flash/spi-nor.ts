/**
 * The SPI NOR command set a flash chip answers on its bus, for the commands esptool
 * runs by hand through the SPI controller's USR registers (`run_spiflash_command`):
 * RDID (JEDEC id), RDSFDP (the "SFDP" header esptool v5 checks before flashing), the
 * status registers, and write enable. Reads and writes of data go through FlashChip.
 */
import type { FlashVendor } from '../chips/chip.ts';
import type { FlashChip } from './flash-chip.ts';

export const SpiNorCommand = {
  WRSR: 0x01,
  RDSR: 0x05,
  WRDI: 0x04,
  WREN: 0x06,
  WRSR3: 0x11,
  RDSR3: 0x15,
  WRSR2: 0x31,
  RDSR2: 0x35,
  WEVSR: 0x50,
  RDSFDP: 0x5a,
  RDID: 0x9f,
} as const;

const WEL = 0x02;

/** A minimal JESD216 table: header, one parameter header, and the basic table's density word. */
function sfdpTable(sizeBytes: number): Buffer {
  const t = Buffer.alloc(256, 0xff);
  t.write('SFDP', 0, 'ascii');
  t.set([0x06, 0x01, 0x00, 0xff], 4); // revision 1.6, one parameter header, unused
  t.set([0x00, 0x06, 0x01, 0x10, 0x30, 0x00, 0x00, 0xff], 8); // basic table, 16 dwords at 0x30
  t.writeUInt32LE(sizeBytes * 8 - 1, 0x30 + 4); // density in bits, minus one
  return t;
}

export class SpiNor {
  readonly #flash: FlashChip;
  readonly #vendor: FlashVendor;
  readonly #sfdp: Buffer;
  /** Status registers 1-3 as the volatile copy the chip answers with. */
  readonly #status = [0, 0, 0];

  constructor(flash: FlashChip, vendor: FlashVendor) {
    this.#flash = flash;
    this.#vendor = vendor;
    this.#sfdp = sfdpTable(flash.size);
  }

  /** JEDEC id bytes: manufacturer, memory type, capacity (log2 of the size in bytes). */
  jedecId(): Buffer {
    return Buffer.from([this.#vendor.manufacturer, this.#vendor.memoryType, Math.log2(this.#flash.size)]);
  }

  /**
   * Runs one command: `mosi` after the command byte (and address), then `misoBytes`
   * clocked back. Unknown commands leave MISO floating high.
   */
  transfer(command: number, address: number | undefined, mosi: Uint8Array, misoBytes: number): Buffer {
    const out = Buffer.alloc(misoBytes, 0xff);
    const answer = (bytes: ArrayLike<number>) => {
      for (let i = 0; i < misoBytes; i++) out[i] = bytes[i % bytes.length] ?? 0xff;
    };
    switch (command) {
      case SpiNorCommand.RDID:
        answer(this.jedecId());
        break;
      case SpiNorCommand.RDSFDP: {
        const at = (address ?? 0) & 0xff;
        for (let i = 0; i < misoBytes; i++) out[i] = this.#sfdp[(at + i) & 0xff] ?? 0xff;
        break;
      }
      case SpiNorCommand.RDSR:
        answer([this.#status[0] ?? 0]);
        break;
      case SpiNorCommand.RDSR2:
        answer([this.#status[1] ?? 0]);
        break;
      case SpiNorCommand.RDSR3:
        answer([this.#status[2] ?? 0]);
        break;
      case SpiNorCommand.WREN:
        this.#status[0] = (this.#status[0] ?? 0) | WEL;
        break;
      case SpiNorCommand.WRDI:
        this.#status[0] = (this.#status[0] ?? 0) & ~WEL;
        break;
      case SpiNorCommand.WEVSR:
        break;
      case SpiNorCommand.WRSR:
      case SpiNorCommand.WRSR2:
      case SpiNorCommand.WRSR3: {
        const index = command === SpiNorCommand.WRSR ? 0 : command === SpiNorCommand.WRSR2 ? 1 : 2;
        if (mosi.length > 0) this.#status[index] = (mosi[0] ?? 0) & (index === 0 ? ~WEL & 0xff : 0xff);
        if (command === SpiNorCommand.WRSR && mosi.length > 1) this.#status[1] = mosi[1] ?? 0;
        this.#status[0] = (this.#status[0] ?? 0) & ~WEL;
        break;
      }
      default:
        break;
    }
    return out;
  }
}
