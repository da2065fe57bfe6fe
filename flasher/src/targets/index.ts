/** The chips the flasher knows; detection and checks walk this list, never a switch on names. */
import { UsageError } from '../errors.ts';
import { Esp32Target } from './esp32.ts';
import { Esp32c3Target } from './esp32c3.ts';
import { Esp32s3Target } from './esp32s3.ts';

export type Target = Esp32Target;

export const TARGETS: readonly Target[] = [new Esp32Target(), new Esp32s3Target(), new Esp32c3Target()];

export function targetByName(name: string): Target {
  const t = TARGETS.find((x) => x.name === name.toLowerCase().replace(/-/g, ''));
  if (!t) {
    throw new UsageError('CHIP_UNKNOWN', `unknown chip '${name}'`, {
      hint: `supported chips: ${TARGETS.map((x) => x.name).join(', ')}`,
    });
  }
  return t;
}

export function targetByEsptoolName(name: string): Target | undefined {
  return TARGETS.find((x) => x.esptoolName === name);
}

export function targetByImageChipId(id: number): Target | undefined {
  return TARGETS.find((x) => x.imageChipId === id);
}
