/**
 * What the Kiln firmware says on its UART, as suites read it: the boot line every
 * boot prints (firmware, protocol, boot id, device id) and the console's `status`
 * answer (firmware/components/kiln_device/src/kiln_device.c and kiln_device_serial.c).
 * The esp32 and host ports print the same lines: they come from the portable core.
 */
import type { Dut, ExpectOptions } from './dut.ts';

/** `I (7) kiln: kiln_firmware 0.1.0, protocol kiln.v1, boot 787f68acfb3554c3, device id hil-dut-1` */
export const BOOT_LINE =
  /kiln: (\S+) (\d+\.\d+\.\d+\S*), protocol (kiln\.v\d+), boot ([0-9a-f]{8,32}), device id (\S+)/;

export interface BootLine {
  firmware: string;
  version: string;
  protocol: string;
  bootId: string;
  /** undefined until one is provisioned (the device prints "(none)"). */
  deviceId: string | undefined;
}

/** Waits for the next boot line (after a reset, a reboot or a flash). */
export async function expectBoot(dut: Dut, options: ExpectOptions = {}): Promise<BootLine> {
  const m = await dut.expect(BOOT_LINE, options);
  return {
    firmware: m[1] as string,
    version: m[2] as string,
    protocol: m[3] as string,
    bootId: m[4] as string,
    deviceId: m[5] === '(none)' ? undefined : m[5],
  };
}

/** The console's `status` answer. */
export interface ConsoleStatus {
  state: string;
  reason: string;
  wifi: string;
  gateway: string;
  /** Samples in the RAM ring not yet acknowledged by the gateway. */
  queued: number;
  /** Samples taken this boot. */
  samples: number;
  /** Unacknowledged samples pushed out of the full ring this boot (lost). */
  dropped: number;
  reconnects: number;
  /** The next sequence number this boot (every sample taken so far has a smaller one). */
  seq: number;
}

const STATUS =
  /^state=(\w+) reason=(\w*) wifi=(\w+) gateway=(\w+) queued=(\d+) samples=(\d+) dropped=(\d+) reconnects=(\d+) seq=(\d+)$/m;

/**
 * Asks the console for `status` and parses the answer. Output not read before is
 * dropped first, so the answer is this one (and the DUT's log is read up to now).
 */
export async function consoleStatus(dut: Dut, options: ExpectOptions = {}): Promise<ConsoleStatus> {
  dut.discard();
  await dut.write('status');
  const m = await dut.expect(STATUS, { timeout: options.timeout ?? 5000 });
  const n = (i: number) => Number(m[i]);
  return {
    state: m[1] as string,
    reason: m[2] as string,
    wifi: m[3] as string,
    gateway: m[4] as string,
    queued: n(5),
    samples: n(6),
    dropped: n(7),
    reconnects: n(8),
    seq: n(9),
  };
}
