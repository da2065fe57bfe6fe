/**
 * What runs after the ROM when the chip boots from flash. The ROM prints its reset
 * and boot lines, then hands over to a boot stage. The second-stage bootloader (read
 * the partition table and otadata, check the app image, run the host build of the
 * firmware) plugs in here; until then the board stays idle, as a chip would in a
 * loop waiting for nothing.
 */
import type { Chip } from '../chips/chip.ts';
import type { FlashChip } from '../flash/flash-chip.ts';

export interface BootContext {
  readonly chip: Chip;
  readonly flash: FlashChip;
  /** Text or bytes onto the chip's UART TX. */
  write(data: string | Uint8Array): void;
  /** Sets the chip's UART rate (an app that reconfigures its console). */
  setBaud(baud: number): void;
}

/** A running stage: it gets the chip's UART RX and is stopped by the next reset. */
export interface RunningStage {
  receive?(data: Buffer): void;
  stop(): void;
}

export interface BootStage {
  start(ctx: BootContext): RunningStage;
}

/** Prints nothing more and ignores input. */
export const idleBootStage: BootStage = {
  start: () => ({ stop: () => {} }),
};
