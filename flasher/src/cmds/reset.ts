/** `kiln reset`: pulse EN to run the app, or reset into the ROM loader. Needs no sync with the chip. */
import { PortError } from '../errors.ts';
import { ClassicReset, CustomReset, HardReset, type ResetStrategy } from '../reset.ts';
import { createTransport } from '../transport/index.ts';
import type { Transport } from '../transport/types.ts';

export interface ResetOptions {
  port: string | Transport;
  /** hard (default): run the app; bootloader: stay in the ROM loader. */
  mode?: 'hard' | 'bootloader';
  /** esptool's custom sequence instead, e.g. D0|R1|W0.1|R0. */
  sequence?: string;
}

/**
 * Resets the board through DTR/RTS.
 *
 * Throws: PortError PORT_NO_LINES for socket://, which carries no lines.
 */
export async function reset(options: ResetOptions): Promise<void> {
  const transport = typeof options.port === 'string' ? createTransport(options.port) : options.port;
  if (!transport.canSetLines) {
    throw new PortError('PORT_NO_LINES', `${transport.port} carries no DTR/RTS lines, so it cannot reset the board`, {
      hint: 'use the rfc2217:// URL of the same server, or press the board’s RESET button',
    });
  }
  await transport.open(115200);
  try {
    const strategy: ResetStrategy = options.sequence
      ? new CustomReset(transport, options.sequence)
      : options.mode === 'bootloader'
        ? new ClassicReset(transport)
        : new HardReset(transport);
    await strategy.reset();
  } finally {
    await transport.close();
  }
}
