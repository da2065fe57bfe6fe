/**
 * Serial port discovery for `kiln ports`: serialport's list(), and on Linux a
 * sysfs walk when that fails (it shells out to udevadm, absent in containers).
 * Ports behind the USB-UART bridges ESP32 boards carry are marked as likely ESPs.
 */
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SerialPort } from 'serialport';

export interface ListedPort {
  path: string;
  /** USB vendor and product id, lowercase hex without 0x. */
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
  manufacturer?: string;
  /** USB topology (bus-port path) or the OS's location id. */
  location?: string;
  /** The adapter family when it is one ESP32 boards use, else undefined. */
  espAdapter?: string;
}

/** VID:PID of the USB-UART bridges and native USB found on ESP32 boards. */
export const ESP_ADAPTERS: ReadonlyMap<string, string> = new Map([
  ['303a:1001', 'Espressif USB-Serial/JTAG'],
  ['303a:*', 'Espressif native USB'],
  ['10c4:ea60', 'Silicon Labs CP210x'],
  ['1a86:7523', 'WCH CH340'],
  ['1a86:55d4', 'WCH CH9102'],
  ['0403:6001', 'FTDI FT232R'],
  ['0403:6010', 'FTDI FT2232'],
  ['0403:6015', 'FTDI FT-X'],
]);

export function espAdapter(vendorId?: string, productId?: string): string | undefined {
  if (!vendorId) return undefined;
  const vid = vendorId.toLowerCase().padStart(4, '0');
  const pid = (productId ?? '').toLowerCase().padStart(4, '0');
  return ESP_ADAPTERS.get(`${vid}:${pid}`) ?? ESP_ADAPTERS.get(`${vid}:*`);
}

export interface ListOptions {
  /** Where ports come from; default serialport's list() with the sysfs fallback. */
  source?: () => Promise<ListedPort[]>;
}

export async function listPorts(options: ListOptions = {}): Promise<ListedPort[]> {
  const raw = await (options.source ?? defaultSource)();
  return raw
    .map((p) => {
      const adapter = espAdapter(p.vendorId, p.productId);
      return adapter ? { ...p, espAdapter: adapter } : p;
    })
    .sort((a, b) => Number(!!b.espAdapter) - Number(!!a.espAdapter) || a.path.localeCompare(b.path));
}

async function defaultSource(): Promise<ListedPort[]> {
  try {
    const ports = await SerialPort.list();
    return ports.map((p) =>
      clean({
        path: p.path,
        vendorId: p.vendorId?.toLowerCase(),
        productId: p.productId?.toLowerCase(),
        serialNumber: p.serialNumber,
        manufacturer: p.manufacturer,
        location: p.locationId ?? p.pnpId,
      }),
    );
  } catch (e) {
    if (process.platform === 'linux') return listSysfs();
    throw e;
  }
}

/** Linux without udevadm: /sys/class/tty/<name>/device, walking up to the USB device for its ids. */
export function listSysfs(root = '/sys/class/tty', dev = '/dev'): ListedPort[] {
  const out: ListedPort[] = [];
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    let device: string;
    try {
      device = realpathSync(join(root, name, 'device'));
    } catch {
      continue; // virtual consoles and ptys have no device
    }
    const port: ListedPort = { path: join(dev, name) };
    for (let dir = device; dir !== '/' && dir !== '.'; dir = dirname(dir)) {
      const vid = read(join(dir, 'idVendor'));
      if (vid === undefined) continue;
      port.vendorId = vid;
      port.productId = read(join(dir, 'idProduct'));
      port.serialNumber = read(join(dir, 'serial'));
      port.manufacturer = read(join(dir, 'manufacturer'));
      port.location = basename(dir);
      break;
    }
    if (port.vendorId || /^tty(USB|ACM)/.test(name)) out.push(clean(port));
  }
  return out;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function clean(p: ListedPort): ListedPort {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined && v !== '')) as unknown as ListedPort;
}
