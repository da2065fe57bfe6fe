/** Chip names as Kiln, esptool (`--chip`) and ESP-IDF (`idf.py set-target`) spell them. */
export const CHIPS = ['esp32', 'esp32s2', 'esp32s3', 'esp32c2', 'esp32c3', 'esp32c6', 'esp32h2'] as const;
export type Chip = (typeof CHIPS)[number];

export function isChip(value: string): value is Chip {
  return (CHIPS as readonly string[]).includes(value);
}
