import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Unit tests beside each package; cross-package end-to-end suites in test/e2e.
    include: ['*/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'firmware/**'],
    // Builds firmware/build-host first: boot and device suites run kiln-device.
    globalSetup: ['./vitest.global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start servers and boards: failures must not leave them running.
    teardownTimeout: 20_000,
  },
});
