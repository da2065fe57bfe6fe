/**
 * Reset sequences as small strategy classes (esptool `reset.py` v5; flashing.md §3).
 * They drive a Kiln Transport, which sends DTR and RTS together, so none of them
 * suffers from esptool-js's line bookkeeping (its `setSignals` never records DTR
 * going low, and its `HardReset` never asserts RTS: flashing.md §0.2).
 *
 * Lines are "asserted" (true) or not. On a DevKit's auto-reset circuit RTS alone
 * pulls EN low (reset) and DTR alone pulls GPIO0 low (download mode strap).
 */
import { UsageError } from './errors.ts';
import type { Transport } from './transport/types.ts';

export interface ResetStrategy {
  reset(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Into the ROM loader: EN low, then EN high with GPIO0 low, then GPIO0 released. */
export class ClassicReset implements ResetStrategy {
  constructor(
    readonly transport: Transport,
    readonly delayMs = 50,
  ) {}

  async reset(): Promise<void> {
    await this.transport.setLines({ dtr: false, rts: true });
    await sleep(100);
    await this.transport.setLines({ dtr: true, rts: false });
    await sleep(this.delayMs);
    await this.transport.setLines({ dtr: false, rts: false });
  }
}

/** Classic with each step one atomic TIOCMSET, passing through (1,1) not (0,0) (esptool UnixTightReset). */
export class UnixTightReset implements ResetStrategy {
  constructor(
    readonly transport: Transport,
    readonly delayMs = 50,
  ) {}

  async reset(): Promise<void> {
    await this.transport.setLines({ dtr: false, rts: false });
    await this.transport.setLines({ dtr: true, rts: true });
    await this.transport.setLines({ dtr: false, rts: true });
    await sleep(100);
    await this.transport.setLines({ dtr: true, rts: false });
    await sleep(this.delayMs);
    await this.transport.setLines({ dtr: false, rts: false });
  }
}

/** Run the application: EN pulsed low with GPIO0 released (the correct "D0|R1|W100|R0"). */
export class HardReset implements ResetStrategy {
  constructor(
    readonly transport: Transport,
    readonly usbOtg = false,
  ) {}

  async reset(): Promise<void> {
    await this.transport.setLines({ dtr: false, rts: true });
    await sleep(this.usbOtg ? 200 : 100);
    await this.transport.setLines({ dtr: false, rts: false });
    if (this.usbOtg) await sleep(200);
  }
}

/** The chip's own USB-Serial/JTAG peripheral (VID 0x303A, PID 0x1001), whose "lines" are not a transistor pair. */
export class UsbJtagSerialReset implements ResetStrategy {
  constructor(readonly transport: Transport) {}

  async reset(): Promise<void> {
    const t = this.transport;
    await t.setLines({ dtr: false, rts: false });
    await sleep(100);
    await t.setLines({ dtr: true, rts: false });
    await sleep(100);
    await t.setLines({ rts: true });
    await t.setLines({ dtr: false });
    await t.setLines({ rts: true });
    await sleep(100);
    await t.setLines({ dtr: false, rts: false });
  }
}

/** esptool's `--custom-reset-sequence`: `D0|R1|W0.1|D1|R0|W0.05|D0` (W in seconds). */
export class CustomReset implements ResetStrategy {
  readonly steps: readonly ({ dtr: boolean } | { rts: boolean } | { waitMs: number })[];

  constructor(
    readonly transport: Transport,
    sequence: string,
  ) {
    this.steps = parseResetSequence(sequence);
  }

  async reset(): Promise<void> {
    for (const step of this.steps) {
      if ('waitMs' in step) await sleep(step.waitMs);
      else await this.transport.setLines(step);
    }
  }
}

export function parseResetSequence(sequence: string): CustomReset['steps'] {
  return sequence.split('|').map((raw) => {
    const step = raw.trim();
    const arg = step.slice(1);
    if ((step[0] === 'D' || step[0] === 'R') && (arg === '0' || arg === '1')) {
      return step[0] === 'D' ? { dtr: arg === '1' } : { rts: arg === '1' };
    }
    const seconds = Number(arg);
    if (step[0] === 'W' && arg !== '' && Number.isFinite(seconds) && seconds >= 0) return { waitMs: seconds * 1000 };
    throw new UsageError('RESET_SEQUENCE_INVALID', `bad step '${step}' in reset sequence '${sequence}'`, {
      hint: 'steps are D0/D1 (DTR), R0/R1 (RTS) and W<seconds>, separated by |, e.g. D0|R1|W0.1|R0',
    });
  });
}
