import { defineConfig } from '@playwright/test';

/**
 * The page's figures (`scripts/measure-web.sh`): not a test suite, a measurement against a
 * server the script starts (BOURSE_URL, BOURSE_OPERATOR_TOKEN, BOURSE_BIN for the load).
 */
export default defineConfig({
  testDir: 'measure',
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results/measure-output',
  use: {
    baseURL: process.env.BOURSE_URL ?? 'http://127.0.0.1:8080',
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' },
  },
});
