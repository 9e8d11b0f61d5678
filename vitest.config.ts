import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The functions' one warning per partial batch response (a JSON line with the error's whole cause chain) is for
    // operators: the outage and chaos tests retry hundreds of batches on purpose, and their assertions say the rest.
    env: { POWERTOOLS_LOG_LEVEL: 'ERROR' },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          // A function's own tests live in its folder (functions/<name>/*.test.ts, as `npm run new` writes them).
          include: ['test/integration/**/*.test.ts', 'functions/**/*.test.ts'],
          // One set of real servers for every file: checked once, before any test, with a clear message.
          globalSetup: ['test/integration/global-setup.ts'],
        },
      },
    ],
  },
});
