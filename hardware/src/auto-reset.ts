/**
 * The DevKit auto-reset circuit: two transistors between the USB-UART bridge's DTR and
 * RTS and the chip's EN and boot strap pin (GPIO0; GPIO9 on the C3). True means the
 * line is asserted (pyserial's convention; the pin then sits at 0 V). flashing.md §3:
 *
 *   DTR RTS | EN IO0
 *    1   1  |  1   1
 *    0   0  |  1   1
 *    1   0  |  1   0
 *    0   1  |  0   1
 *
 * EN low holds the chip in reset. When EN rises the chip latches the strap pin: low
 * selects download mode, high boots from flash. On a DevKit the EN capacitor delays
 * the latch by milliseconds, long enough to swallow the glitch of a non-atomic
 * DTR/RTS change. Over RFC 2217 each change costs the client a network round trip
 * (pyserial polls for the acknowledgement every 50 ms), so the same glitch lasts tens
 * of milliseconds: the strap is therefore read over a window after EN rises (the
 * `strapWindowMs` option): if the strap pin is or goes low within it, the chip
 * enters download mode at that moment; if not, it boots from flash when the window
 * closes. Every esptool and esptool-js sequence keeps the pin low for at least 50 ms
 * after EN rises, and none pulls it low within the window after a plain reset.
 */

export interface Lines {
  dtr: boolean;
  rts: boolean;
}

export interface Pins {
  /** true = high (running), false = held in reset. */
  en: boolean;
  /** true = high (boot from flash), false = low (download). */
  strap: boolean;
}

export function pinsFor({ dtr, rts }: Lines): Pins {
  return { en: !(rts && !dtr), strap: !(dtr && !rts) };
}

export type CircuitState = 'reset' | 'strapping' | 'running';

export interface CircuitEvents {
  /** EN went low: the chip stops. */
  reset(): void;
  /** The chip left reset with this strap level. */
  boot(mode: 'download' | 'flash'): void;
}

/** Long enough for pyserial's 50 ms acknowledgement polls, short next to a human. */
export const DEFAULT_STRAP_WINDOW_MS = 150;

export class AutoResetCircuit {
  readonly #events: CircuitEvents;
  readonly #windowMs: number;
  #lines: Lines = { dtr: false, rts: false };
  #state: CircuitState = 'reset';
  #timer: NodeJS.Timeout | undefined;

  constructor(events: CircuitEvents, options: { strapWindowMs?: number } = {}) {
    this.#events = events;
    this.#windowMs = options.strapWindowMs ?? DEFAULT_STRAP_WINDOW_MS;
  }

  get lines(): Lines {
    return { ...this.#lines };
  }

  get pins(): Pins {
    return pinsFor(this.#lines);
  }

  get state(): CircuitState {
    return this.#state;
  }

  /**
   * Power applied with the current lines: as if EN had just risen (or stays low).
   * `bootButton`: the strap pin is held low by hand until the chip is up.
   */
  powerOn(options: { bootButton?: boolean } = {}): void {
    if (!this.pins.en) return;
    if (options.bootButton) this.#latch('download');
    else this.#enRose();
  }

  /** A change of DTR and/or RTS, applied at once (TIOCMSET, or one RFC 2217 SET-CONTROL). */
  set(lines: Partial<Lines>): void {
    const before = this.pins;
    this.#lines = { ...this.#lines, ...lines };
    const after = this.pins;
    if (before.en && !after.en) {
      this.#cancel();
      this.#state = 'reset';
      this.#events.reset();
    } else if (!before.en && after.en) {
      this.#enRose();
    } else if (this.#state === 'strapping' && !after.strap) {
      this.#latch('download');
    }
  }

  /** Stops the pending latch; the circuit does nothing more. */
  dispose(): void {
    this.#cancel();
  }

  #enRose(): void {
    this.#cancel();
    if (!this.pins.strap) {
      this.#latch('download');
      return;
    }
    this.#state = 'strapping';
    this.#timer = setTimeout(() => this.#latch('flash'), this.#windowMs);
  }

  #latch(mode: 'download' | 'flash'): void {
    this.#cancel();
    this.#state = 'running';
    this.#events.boot(mode);
  }

  #cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
