/**
 * Runs once before any test file: builds the firmware host build (kiln-device and its
 * ESP-IDF-style image) so that every suite that boots or drives a Kiln device finds it,
 * whatever order the files run in. Incremental: a no-op rebuild takes a second or two.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync('bash', [fileURLToPath(new URL('scripts/build-firmware-host.sh', import.meta.url))], {
    stdio: 'inherit',
  });
}
