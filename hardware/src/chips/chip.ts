/**
 * What a chip looks like from the serial port: the constants esptool and esptool-js
 * read to identify it (magic value or chip id, eFuse words, revision), its SPI and
 * UART registers, RAM map, ROM messages and boot strapping. Chips hold data; the
 * loader owns the wire (style.md §2). Each chip extends its nearest sibling and
 * changes only what differs, as esptool's targets/ do.
 */

export type BootMode = 'download' | 'flash';
export type ResetReason = 'power-on' | 'software';

/** Register offsets of the SPI controller that talks to the flash (esptool `SPI_*_OFFS`). */
export interface SpiRegisters {
  base: number;
  usr: number;
  usr1: number;
  usr2: number;
  mosiDlen: number;
  misoDlen: number;
  w0: number;
  /** ESP32 left-aligns the address in SPI_ADDR_REG (esptool `SPI_ADDR_REG_MSB`). */
  addrMsb: boolean;
}

/** JEDEC manufacturer and memory type of the board's flash; the capacity byte follows its size. */
export interface FlashVendor {
  manufacturer: number;
  memoryType: number;
  name: string;
}

export type MacAddress = readonly [number, number, number, number, number, number];

export abstract class Chip {
  /** Kiln / esptool `--chip` / `idf.py set-target` spelling. */
  abstract readonly name: string;
  /** esptool's CHIP_NAME. */
  abstract readonly displayName: string;
  /** `esp_chip_id_t`, the image header's chip id, and GET_SECURITY_INFO's chip_id (formats.md §4). */
  abstract readonly imageChipId: number;
  /** Word at 0x40001000 that esptool reads when GET_SECURITY_INFO is missing. */
  abstract readonly magicValue: number;
  /** Whether the ROM implements GET_SECURITY_INFO (ESP32-S2 and later). */
  abstract readonly securityInfo: boolean;
  /** Where the second-stage bootloader lives in flash (ESP_ROM_BOOTLOADER_OFFSET_FLASH). */
  abstract readonly bootloaderOffset: number;
  /** The pin DTR pulls low through the auto-reset circuit to select download mode. */
  abstract readonly strapPin: string;
  abstract readonly spi: SpiRegisters;
  abstract readonly uartClkdivReg: number;
  /** What esptool prints as "Chip type" and "Features" for the eFuse words below. */
  abstract readonly description: string;
  abstract readonly features: readonly string[];
  abstract readonly flashVendor: FlashVendor;
  /** First three MAC bytes used when none is configured (an Espressif OUI). */
  abstract readonly macOui: readonly [number, number, number];
  /** Address ranges [start, end) the ROM loads MEM_* blocks into. */
  abstract readonly ram: readonly (readonly [number, number])[];

  readonly mac: MacAddress;

  constructor(mac: MacAddress) {
    this.mac = mac;
  }

  /** The registers the loader answers READ_REG with, MAC included. Unlisted addresses read 0. */
  abstract registers(): Map<number, number>;

  /** GPIO_STRAP_REG: esptool reads it, and the ROM prints it as `boot:0x..`. */
  abstract readonly strapRegister: number;
  abstract strapValue(mode: BootMode): number;

  /** The lines the ROM prints on its UART before anything else (115200 baud). */
  abstract romBanner(mode: BootMode, reason: ResetReason): string;

  /** GET_SECURITY_INFO payload: flags, flash_crypt_cnt, key_purposes[7], chip_id, api_version. */
  securityInfoPayload(): Buffer {
    const out = Buffer.alloc(20);
    out.writeUInt32LE(this.imageChipId, 12);
    return out;
  }

  /** UART_CLKDIV for a baud rate: the ROM derives the UART clock from a 40 MHz APB. */
  uartClkdiv(baud: number): number {
    return Math.round(40_000_000 / baud) & 0xfffff;
  }

  inRam(start: number, length: number): boolean {
    return this.ram.some(([lo, hi]) => start >= lo && start + length <= hi);
  }
}

/** "24:0a:c4:12:34:56" */
export function formatMac(mac: MacAddress): string {
  return mac.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
