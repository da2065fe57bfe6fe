/** `kiln chip-info`: chip, revision, features, crystal, MAC, flash id and size. */
import { type DeviceOptions, withSession } from './connect-options.ts';
import { parseSize } from './flash.ts';

export interface ChipInfo {
  port: string;
  chip: string;
  description: string;
  revision?: number;
  features: string[];
  crystalMhz: number;
  mac: string;
  /** JEDEC id as 6 hex digits: manufacturer, memory type, capacity. */
  flashId: string;
  flashManufacturer: string;
  flashDevice: string;
  flashSize?: number;
}

/**
 * Connects and reads the chip's identity.
 *
 * Args: options.port and the connection options of every device command.
 * Returns: the facts esptool's chip-id/flash-id print, as data.
 */
export function chipInfo(options: DeviceOptions): Promise<ChipInfo> {
  return withSession(options, async ({ loader, target, description, transport }) => {
    const chip = loader.chip;
    const id = (await loader.readFlashId()) >>> 0;
    const info: ChipInfo = {
      port: transport.port,
      chip: target.name,
      description,
      features: await chip.getChipFeatures(loader),
      crystalMhz: await chip.getCrystalFreq(loader),
      mac: await chip.readMac(loader),
      flashId: [id & 0xff, (id >> 8) & 0xff, (id >> 16) & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(''),
      flashManufacturer: (id & 0xff).toString(16).padStart(2, '0'),
      flashDevice: ((((id >> 8) & 0xff) << 8) | ((id >> 16) & 0xff)).toString(16).padStart(4, '0'),
      flashSize: parseSize(await loader.detectFlashSize().catch(() => undefined)),
    };
    if (chip.getChipRevision) info.revision = await chip.getChipRevision(loader);
    return info;
  });
}

export function formatChipInfo(i: ChipInfo): string {
  const size = i.flashSize === undefined ? 'unknown' : `${i.flashSize / 1048576} MB`;
  return [
    `Port:        ${i.port}`,
    `Chip:        ${i.description}`,
    `Features:    ${i.features.join(', ')}`,
    `Crystal:     ${i.crystalMhz} MHz`,
    `MAC:         ${i.mac}`,
    `Flash:       manufacturer ${i.flashManufacturer}, device ${i.flashDevice}, ${size}`,
    '',
  ].join('\n');
}
