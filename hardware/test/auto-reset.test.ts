/**
 * The DevKit auto-reset circuit under the reset sequences of esptool (esp_pylib
 * serial_reset.py), esptool-js (reset.js) and a hand on the buttons: locally and at
 * RFC 2217 pace, where pyserial spends 50 ms on every line change.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AutoResetCircuit, pinsFor } from '../src/auto-reset.ts';

let log: string[];
let circuit: AutoResetCircuit;

beforeEach(() => {
  vi.useFakeTimers();
  log = [];
  circuit = new AutoResetCircuit({ reset: () => log.push('reset'), boot: (mode) => log.push(mode) });
});
afterEach(() => {
  circuit.dispose();
  vi.useRealTimers();
});

/**
 * Runs a sequence in esptool's custom-reset syntax: D<0|1>, R<0|1>, U<dtr>,<rts>, W<ms>.
 * `pace` is the time each line change takes the client (0 locally, 50 for pyserial rfc2217).
 */
function run(sequence: string, pace = 0): void {
  for (const step of sequence.split('|')) {
    const [cmd, arg = ''] = [step[0], step.slice(1)];
    if (cmd === 'W') {
      vi.advanceTimersByTime(Number(arg));
      continue;
    }
    if (cmd === 'D') circuit.set({ dtr: arg === '1' });
    if (cmd === 'R') circuit.set({ rts: arg === '1' });
    if (cmd === 'U') {
      const [d, r] = arg.split(',');
      circuit.set({ dtr: d === '1', rts: r === '1' });
    }
    vi.advanceTimersByTime(pace);
  }
}

/** pyserial opens a port with DTR and RTS asserted, one after the other. */
const PYSERIAL_OPEN = 'D1|R1';
/** esp_pylib classic_bootloader_reset; set_rts re-sends DTR (the usbser.sys workaround). */
const ESPTOOL_CLASSIC = (delay: number) => `D0|R1|D0|W100|D1|R0|D1|W${delay}|D0`;
const ESPTOOL_TIGHT = (delay: number) => `U0,0|U1,1|U0,1|W100|U1,0|W${delay}|U0,0|D0`;
const ESPTOOL_HARD_RESET = 'R1|D0|W100|R0|D0';
const ESPTOOL_USB_JTAG = 'R0|D0|D0|W100|D1|R0|D1|W100|R1|D1|D0|R1|D0|W100|D0|R0|D0';
const ESPTOOL_JS_CLASSIC = (delay: number) => `D0|R1|W100|D1|R0|W${delay}|D0`;
const ESPTOOL_JS_HARD_RESET_WORKAROUND = 'D0|R1|W100|R0';

describe('auto-reset circuit', () => {
  it('follows the DevKit truth table: EN low only for RTS alone, IO0 low only for DTR alone', () => {
    expect(pinsFor({ dtr: true, rts: true })).toEqual({ en: true, strap: true });
    expect(pinsFor({ dtr: false, rts: false })).toEqual({ en: true, strap: true });
    expect(pinsFor({ dtr: true, rts: false })).toEqual({ en: true, strap: false });
    expect(pinsFor({ dtr: false, rts: true })).toEqual({ en: false, strap: true });
  });

  it('boots from flash at power-on with the lines released', () => {
    circuit.powerOn();
    vi.advanceTimersByTime(1000);
    expect(log).toEqual(['flash']);
  });

  it.each([
    ['esptool classic, local', ESPTOOL_CLASSIC(50), 0],
    ['esptool classic, over RFC 2217', ESPTOOL_CLASSIC(50), 50],
    ['esptool classic with the longer delay, over RFC 2217', ESPTOOL_CLASSIC(550), 50],
    ['esptool tight (atomic TIOCMSET)', ESPTOOL_TIGHT(50), 0],
    ['esptool-js classic', ESPTOOL_JS_CLASSIC(50), 0],
    ['esptool-js classic, 550 ms', ESPTOOL_JS_CLASSIC(550), 0],
    ['esptool-js classic at a slow client’s pace', ESPTOOL_JS_CLASSIC(50), 20],
  ])('%s enters download mode once', (_name, sequence, pace) => {
    circuit.powerOn();
    run(PYSERIAL_OPEN, pace);
    run('W500');
    log = [];
    run(sequence, pace);
    run('W1000');
    expect(log).toEqual(['reset', 'download']);
  });

  it.each([
    ['esptool hard reset', ESPTOOL_HARD_RESET, 0],
    ['esptool hard reset over RFC 2217', ESPTOOL_HARD_RESET, 50],
    ['esptool-js custom reset D0|R1|W100|R0', ESPTOOL_JS_HARD_RESET_WORKAROUND, 0],
    ['the USB-JTAG sequence on a UART DevKit', ESPTOOL_USB_JTAG, 0],
  ])('%s restarts the chip from flash', (_name, sequence, pace) => {
    circuit.powerOn();
    run('W500');
    log = [];
    run(sequence, pace);
    run('W1000');
    expect(log).toEqual(['reset', 'flash']);
  });

  it("esptool-js' hardReset (RTS released, never asserted) resets nothing, as on a DevKit", () => {
    circuit.powerOn();
    run('W500');
    log = [];
    run('W100|R0|W1000');
    expect(log).toEqual([]);
  });

  it('holds the chip in reset while EN is low, however long', () => {
    circuit.powerOn();
    run('W500|R1|W60000');
    expect(log).toEqual(['flash', 'reset']);
    expect(circuit.state).toBe('reset');
    run('R0|W1000');
    expect(log).toEqual(['flash', 'reset', 'flash']);
  });

  it('latches the strap once: GPIO0 changes after boot do nothing', () => {
    circuit.powerOn();
    run('W500|D1|W100|D0|D1|W100');
    expect(log).toEqual(['flash']);
  });

  it('reads the strap over a window after EN rises (the RFC 2217 round trip)', () => {
    circuit.powerOn();
    run('W500');
    log = [];
    run('R1|W100|R0|W149|D1|W10');
    expect(log).toEqual(['reset', 'download']);
    run('D0|R1|W100|R0|W151|D1|W10');
    expect(log).toEqual(['reset', 'download', 'reset', 'flash']);
  });
});
