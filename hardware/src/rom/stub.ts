/**
 * What changes when the flasher stub runs (esptool `StubMixin`, flashing.md §1-2):
 * it greets with a bare "OHAI" frame, answers with 2 status bytes instead of the
 * ROM's 4, reports failures with its own 0xC* codes, answers SYNC with value 0, and
 * serves the stub-only commands (ERASE_*, READ_FLASH, RUN_USER_CODE).
 *
 * Which code counts as the stub: whatever MEM_END starts inside RAM that MEM_DATA
 * wrote. The board cannot run Xtensa or RISC-V; every such program is played as the
 * stub that esptool and esptool-js upload.
 */
import { ROM_INVALID_MESSAGE, ROM_STATUS_BYTES, STUB_GREETING, STUB_STATUS_BYTES, StubError } from '@kiln/protocol';
import type { Ram } from './ram.ts';

export function isStubLaunch(ram: Ram, entry: number): boolean {
  return ram.holds(entry);
}

export const STUB_GREETING_FRAME: Buffer = Buffer.from(STUB_GREETING, 'ascii');

export function statusByteCount(stub: boolean): number {
  return stub ? STUB_STATUS_BYTES : ROM_STATUS_BYTES;
}

/**
 * The answer to a command the running loader does not have. The ROM answers with
 * op 0 and error 0x05, which esptool and esptool-js read as "unsupported" (a reply
 * whose op differs from the request, data[0] != 0, data[1] == 0x05); the stub
 * answers the same op with 0xFF, "Command not implemented".
 */
export function unsupportedAnswer(op: number, stub: boolean): { op: number; status: [number, number] } {
  return stub ? { op, status: [StubError.NOT_IMPLEMENTED, 0] } : { op: 0x00, status: [1, ROM_INVALID_MESSAGE] };
}
