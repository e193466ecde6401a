import { defineConfig } from 'vitest/config';

// `npm run test:browsers`: the browser example in Firefox and WebKit (tests/browsers), apart from `npm test`
// (.ci/run runs both; they need Debian's firefox-esr, webkit2gtk-driver and xvfb).
export default defineConfig({
  test: {
    include: ['tests/browsers/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['tests/util/build-wasm.ts'],
  },
});
