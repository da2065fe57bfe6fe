/**
 * The ESP serial ROM loader protocol, as esptool and esptool-js speak it
 * (esptool `docs/en/advanced-topics/serial-protocol.rst`, `esptool/loader.py`,
 * `esptool/util.py` FatalError.WithResult; flashing.md §2).
 *
 * One table of opcodes and one of status codes, shared by the flasher (which
 * sends commands) and the virtual board in hardware/ (which answers them).
 */

/** Command opcodes (esptool `ESPLoader.ESP_CMDS`). */
export const ROM_LOADER_OPCODES = {
  // ESP8266 ROM and later.
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  // ESP32 ROM and later (or the ESP8266 stub).
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  /** ROM only: 64 bytes per command. */
  READ_FLASH_SLOW: 0x0e,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  /** ROM: 32 ASCII hex bytes; stub: 16 raw bytes. */
  SPI_FLASH_MD5: 0x13,
  /** ESP32-S2 and later ROMs (12 bytes on the S2, 20 bytes from the S3/C3 on). */
  GET_SECURITY_INFO: 0x14,
  // Flasher stub only.
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  /** Data follows as raw SLIP frames, acked by the host; a 16-byte MD5 frame ends it. */
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;
export type RomLoaderCommand = keyof typeof ROM_LOADER_OPCODES;

const COMMAND_BY_OPCODE = new Map<number, RomLoaderCommand>(
  Object.entries(ROM_LOADER_OPCODES).map(([name, op]) => [op, name as RomLoaderCommand]),
);

/** The command name for an opcode, or undefined for one no Espressif loader knows. */
export function romLoaderCommandName(opcode: number): RomLoaderCommand | undefined {
  return COMMAND_BY_OPCODE.get(opcode);
}

/** Request direction byte (host to chip) and response direction byte. */
export const ROM_LOADER_REQUEST = 0x00;
export const ROM_LOADER_RESPONSE = 0x01;
/** Request and response headers: direction, op, size u16 LE, checksum or value u32 LE. */
export const ROM_LOADER_HEADER_BYTES = 8;
/** Seed of the XOR checksum over the payload of MEM_DATA, FLASH_DATA and FLASH_DEFL_DATA. */
export const ROM_LOADER_CHECKSUM_SEED = 0xef;
/** SYNC payload: 07 07 12 20 followed by 32 bytes of 0x55. */
export const ROM_LOADER_SYNC_PAYLOAD: Uint8Array = Uint8Array.from([
  0x07,
  0x07,
  0x12,
  0x20,
  ...new Array(32).fill(0x55),
]);
/** The `value` of each of the 8 SYNC replies from a ROM; the stub answers 0. */
export const ROM_LOADER_SYNC_VALUE = 0x20120707;
/** Status bytes after the response data: 4 from an ESP32-or-later ROM, 2 from the stub (and the ESP8266 ROM). */
export const ROM_STATUS_BYTES = 4;
export const STUB_STATUS_BYTES = 2;
/** The error byte a ROM answers an invalid or unsupported message with. */
export const ROM_INVALID_MESSAGE = 0x05;
/** The stub's only unsolicited packet, sent once it runs. */
export const STUB_GREETING = 'OHAI';
/** Blocks esptool writes: 0x400 bytes to the ROM, 0x4000 to the stub; RAM blocks are 0x1800. */
export const ROM_FLASH_WRITE_SIZE = 0x400;
export const STUB_FLASH_WRITE_SIZE = 0x4000;
export const RAM_BLOCK_SIZE = 0x1800;
export const FLASH_SECTOR_SIZE = 0x1000;

/**
 * What a failed command's two status bytes mean, keyed as esptool keys them:
 * `(status << 8) | error`. The ROM answers status 1 and an error byte; the stub
 * answers its error code in the first byte and 0 in the second.
 */
export const ROM_LOADER_RESULTS: ReadonlyMap<number, string> = new Map([
  // ROM error codes
  [0x100, 'Undefined errors'],
  [0x101, 'The input parameter is invalid'],
  [0x102, 'Failed to malloc memory from system'],
  [0x103, 'Failed to send out message'],
  [0x104, 'Failed to receive message'],
  [0x105, 'The format of the received message is invalid'],
  [0x106, 'Message is ok, but the running result is wrong'],
  [0x107, 'Checksum error'],
  [0x108, 'Flash write error'],
  [0x109, 'Flash read error'],
  [0x10a, 'Flash read length error'],
  [0x10b, 'Deflate failed error'],
  [0x10c, 'Deflate Adler32 error'],
  [0x10d, 'Deflate parameter error'],
  [0x10e, 'Invalid RAM binary size'],
  [0x10f, 'Invalid RAM binary address'],
  [0x164, 'Invalid parameter'],
  [0x165, 'Invalid format'],
  [0x166, 'Description too long'],
  [0x167, 'Bad encoding description'],
  [0x169, 'Insufficient storage'],
  // Flasher stub error codes
  [0xc000, 'Bad data length'],
  [0xc100, 'Bad data checksum'],
  [0xc200, 'Bad blocksize'],
  [0xc300, 'Invalid command'],
  [0xc400, 'Failed SPI operation'],
  [0xc500, 'Failed SPI unlock'],
  [0xc600, 'Not in flash mode'],
  [0xc700, 'Inflate error'],
  [0xc800, 'Not enough data'],
  [0xc900, 'Too much data'],
  [0xff00, 'Command not implemented'],
]);

/** ROM error bytes (sent after status byte 1). */
export const RomError = {
  UNDEFINED: 0x00,
  INVALID_PARAMETER: 0x01,
  INVALID_MESSAGE: 0x05,
  FAILED_TO_ACT: 0x06,
  BAD_CHECKSUM: 0x07,
  FLASH_WRITE: 0x08,
  FLASH_READ: 0x09,
  FLASH_READ_LENGTH: 0x0a,
  DEFLATE: 0x0b,
  DEFLATE_ADLER32: 0x0c,
  DEFLATE_PARAMETER: 0x0d,
  RAM_SIZE: 0x0e,
  RAM_ADDRESS: 0x0f,
} as const;

/** Stub error codes (sent as the first status byte, followed by 0). */
export const StubError = {
  BAD_DATA_LENGTH: 0xc0,
  BAD_DATA_CHECKSUM: 0xc1,
  BAD_BLOCKSIZE: 0xc2,
  INVALID_COMMAND: 0xc3,
  FAILED_SPI_OP: 0xc4,
  FAILED_SPI_UNLOCK: 0xc5,
  NOT_IN_FLASH_MODE: 0xc6,
  INFLATE_ERROR: 0xc7,
  NOT_ENOUGH_DATA: 0xc8,
  TOO_MUCH_DATA: 0xc9,
  NOT_IMPLEMENTED: 0xff,
} as const;

/** `Failed to {operation} (result was 0107: Checksum error)`, worded as esptool words it. */
export function describeLoaderResult(status: number, error: number): string {
  const key = ((status & 0xff) << 8) | (error & 0xff);
  const hex = `${(status & 0xff).toString(16).padStart(2, '0')}${(error & 0xff).toString(16).padStart(2, '0')}`;
  return `result was ${hex.toUpperCase()}: ${ROM_LOADER_RESULTS.get(key) ?? 'Unknown result'}`;
}
