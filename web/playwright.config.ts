import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests in e2e/ drive Debian's Chromium (never a downloaded browser) against a
 * running bourse at BOURSE_URL (default http://127.0.0.1:8080).
 */
export default defineConfig({
  testDir: 'e2e',
  // Starts `bourse demo` (BOURSE_BIN) unless BOURSE_URL names a running one.
  globalSetup: './e2e/global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  outputDir: 'test-results/output',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.BOURSE_URL ?? 'http://127.0.0.1:8080',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    },
    trace: 'retain-on-failure',
  },
});
