import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Unit tests beside each package; cross-package end-to-end suites in test/e2e.
    include: ['*/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'firmware/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start servers and boards: failures must not leave them running.
    teardownTimeout: 20_000,
  },
});
