/** `kiln ports`: the serial ports this machine has, likely ESP boards first. */
import { type ListedPort, type ListOptions, listPorts } from '../transport/list.ts';

export type { ListedPort };

/**
 * Lists serial ports with USB VID/PID, serial number and location.
 *
 * Args: options.source replaces the OS listing (tests).
 * Returns: the ports, those behind an ESP32 board's USB bridge first (espAdapter set).
 */
export function ports(options: ListOptions = {}): Promise<ListedPort[]> {
  return listPorts(options);
}

export function formatPorts(list: readonly ListedPort[]): string {
  if (list.length === 0) return 'No serial ports found. Plug the board in, and check dmesg for the adapter.\n';
  const rows = list.map((p) => [
    p.espAdapter ? '*' : ' ',
    p.path,
    p.vendorId ? `${p.vendorId}:${p.productId ?? '????'}` : '-',
    p.serialNumber ?? '-',
    p.location ?? '-',
    p.espAdapter ?? p.manufacturer ?? '',
  ]);
  const header = [' ', 'PORT', 'VID:PID', 'SERIAL', 'LOCATION', 'ADAPTER'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    `${r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()}\n`;
  const marked = list.some((p) => p.espAdapter) ? '* likely an ESP32 board (known USB bridge)\n' : '';
  return line(header) + rows.map(line).join('') + marked;
}
