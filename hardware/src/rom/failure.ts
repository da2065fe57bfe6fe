/**
 * Why a command failed, independent of who answers: the ROM reports it as status 1
 * plus a ROM error byte, the stub as its own 0xC* code (protocol/src/rom-loader.ts).
 * Handlers throw CommandFailure; the loader turns it into the status bytes of
 * whichever loader is running.
 */
import { RomError, StubError } from '@kiln/protocol';

export type FailureKind =
  | 'bad-length'
  | 'bad-checksum'
  | 'bad-block-size'
  | 'bad-parameter'
  | 'not-in-flash-mode'
  | 'flash-operation'
  | 'flash-read'
  | 'read-length'
  | 'inflate'
  | 'not-enough-data'
  | 'too-much-data'
  | 'ram-size'
  | 'ram-address';

const ROM_CODES: Record<FailureKind, number> = {
  'bad-length': RomError.INVALID_MESSAGE,
  'bad-checksum': RomError.BAD_CHECKSUM,
  'bad-block-size': RomError.INVALID_PARAMETER,
  'bad-parameter': RomError.INVALID_PARAMETER,
  'not-in-flash-mode': RomError.FAILED_TO_ACT,
  'flash-operation': RomError.FAILED_TO_ACT,
  'flash-read': RomError.FLASH_READ,
  'read-length': RomError.FLASH_READ_LENGTH,
  inflate: RomError.DEFLATE,
  'not-enough-data': RomError.FAILED_TO_ACT,
  'too-much-data': RomError.FAILED_TO_ACT,
  'ram-size': RomError.RAM_SIZE,
  'ram-address': RomError.RAM_ADDRESS,
};

const STUB_CODES: Record<FailureKind, number> = {
  'bad-length': StubError.BAD_DATA_LENGTH,
  'bad-checksum': StubError.BAD_DATA_CHECKSUM,
  'bad-block-size': StubError.BAD_BLOCKSIZE,
  'bad-parameter': StubError.INVALID_COMMAND,
  'not-in-flash-mode': StubError.NOT_IN_FLASH_MODE,
  'flash-operation': StubError.FAILED_SPI_OP,
  'flash-read': StubError.FAILED_SPI_OP,
  'read-length': StubError.BAD_DATA_LENGTH,
  inflate: StubError.INFLATE_ERROR,
  'not-enough-data': StubError.NOT_ENOUGH_DATA,
  'too-much-data': StubError.TOO_MUCH_DATA,
  'ram-size': StubError.BAD_DATA_LENGTH,
  'ram-address': StubError.INVALID_COMMAND,
};

export class CommandFailure extends Error {
  readonly kind: FailureKind;

  constructor(kind: FailureKind, detail?: string) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.kind = kind;
  }
}

export function fail(kind: FailureKind, detail?: string): never {
  throw new CommandFailure(kind, detail);
}

/** The two meaningful status bytes for a failure: ROM `[1, code]`, stub `[code, 0]`. */
export function failureStatus(kind: FailureKind, stub: boolean): [number, number] {
  return stub ? [STUB_CODES[kind], 0] : [1, ROM_CODES[kind]];
}
