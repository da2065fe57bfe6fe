/**
 * The networks a Kiln host build's simulated Wi-Fi sees. kiln-device reads them as
 * `ssid:psk[:rssi],…` from KILN_WIFI (or --wifi); the board hands them over in the
 * child's environment and never on its command line: /proc/<pid>/cmdline (ps) is
 * readable by every user, /proc/<pid>/environ only by the process's owner.
 */
import { UsageError } from '@kiln/protocol';

/** The environment variable kiln-device reads its networks from. */
export const WIFI_ENV = 'KILN_WIFI';

export interface SimulatedNetwork {
  ssid: string;
  /** The WPA2 passphrase; '' for an open network. */
  psk: string;
  /** dBm the device scans it at; kiln-device's default is -52 for the first, 7 less for each next one. */
  rssi?: number;
}

/** kiln-device's own limits (kiln_port_host_sys.c: NETS_MAX, ssid[33], psk[65], a 1024-byte spec). */
const MAX_NETWORKS = 8;
const MAX_SSID_BYTES = 32;
const MAX_PSK_BYTES = 64;
const MAX_SPEC_BYTES = 1023;

function bad(message: string): UsageError {
  return new UsageError('BOARD_BAD_WIFI', message, {
    hint: "networks are ssid:psk[:rssi], comma- or line-separated (open network: 'Guest:'); neither may hold ':' or ','",
  });
}

/** The KILN_WIFI value for these networks. Error messages never repeat a password. */
export function formatNetworks(networks: readonly SimulatedNetwork[]): string {
  if (networks.length > MAX_NETWORKS)
    throw bad(`${networks.length} networks: a host build sees at most ${MAX_NETWORKS}`);
  const spec = networks
    .map((n, i) => {
      const which = `network ${i + 1} ("${n.ssid}")`;
      if (n.ssid === '' || /[:,\n\r\0]/.test(n.ssid) || Buffer.byteLength(n.ssid) > MAX_SSID_BYTES) {
        throw bad(`${which}: an SSID is 1 to ${MAX_SSID_BYTES} bytes without ':' or ','`);
      }
      if (/[:,\n\r\0]/.test(n.psk) || Buffer.byteLength(n.psk) > MAX_PSK_BYTES) {
        throw bad(`${which}: the password must be at most ${MAX_PSK_BYTES} bytes without ':' or ','`);
      }
      if (n.rssi !== undefined && !(Number.isInteger(n.rssi) && n.rssi >= -127 && n.rssi <= 0)) {
        throw bad(`${which}: RSSI ${n.rssi} is not a whole number of dBm from -127 to 0`);
      }
      return `${n.ssid}:${n.psk}${n.rssi === undefined ? '' : `:${n.rssi}`}`;
    })
    .join(',');
  if (Buffer.byteLength(spec) > MAX_SPEC_BYTES) throw bad(`the networks take more than ${MAX_SPEC_BYTES} bytes`);
  return spec;
}

/** Parses `ssid:psk[:rssi]` items separated by commas or lines (a KILN_WIFI value or a file), checked as formatNetworks does. */
export function parseNetworks(text: string): SimulatedNetwork[] {
  const items = text
    .split(/[,\n]/)
    .map((s) => s.replace(/\r$/, ''))
    .filter((s) => s !== '');
  const networks = items.map((item, i): SimulatedNetwork => {
    const first = item.indexOf(':');
    if (first < 0) throw bad(`network ${i + 1}: expected ssid:psk[:rssi]`);
    const ssid = item.slice(0, first);
    const rest = item.slice(first + 1);
    const second = rest.indexOf(':');
    if (second < 0) return { ssid, psk: rest };
    const rssi = rest.slice(second + 1);
    if (!/^-?\d{1,3}$/.test(rssi)) {
      throw bad(`network ${i + 1} ("${ssid}"): what follows the password is not an RSSI (a password cannot hold ':')`);
    }
    return { ssid, psk: rest.slice(0, second), rssi: Number(rssi) };
  });
  formatNetworks(networks);
  return networks;
}
