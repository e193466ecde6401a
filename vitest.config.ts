import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Firefox and WebKit run apart: `npm run test:browsers` (vitest.browsers.config.ts; .ci/run runs it too)
    exclude: [...configDefaults.exclude, 'tests/browsers/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['tests/util/build-wasm.ts'],
    // the usual console report, plus a JSON summary that .ci/run turns into one "N passed, N failed" line
    reporters: ['default', ['json', { outputFile: 'tests/out/vitest.json' }]],
  },
});
