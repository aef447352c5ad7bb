/// <reference types="vitest/config" />
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { devShim } from './dev/shim.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const target = process.env.BOURSE_DEV_SERVER ?? 'http://127.0.0.1:18080';
const proxy = {
  '/v1': { target, changeOrigin: false, ws: true },
  '/healthz': { target },
};
/** The policy the server sends with the page. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Puts the licence texts of what the bundle contains next to it in dist/:
 * THIRD-PARTY-NOTICES.txt (all of them, linked from the page's About screen) and the
 * Apache-2.0 LICENSE and NOTICE of TradingView Lightweight Charts as separate files.
 */
function licences(): Plugin {
  const read = (p: string): string => readFileSync(here(p), 'utf8');
  return {
    name: 'bourse-licences',
    apply: 'build',
    generateBundle() {
      const lwcLicense = read('node_modules/lightweight-charts/LICENSE');
      const lwcNotice = read('licenses/lightweight-charts-NOTICE.txt');
      const parts = [
        'Third-party software in this page\n==================================\n',
        '--- TradingView Lightweight Charts 5.3.0 (Apache-2.0) ---\nhttps://www.tradingview.com/\n\nNOTICE:\n' +
          lwcNotice +
          '\n' +
          lwcLicense,
        '--- fancy-canvas 2.1.0 (MIT) ---\n' + read('licenses/fancy-canvas-LICENSE.txt'),
        '--- Preact 11.2.0 (MIT) ---\n' + read('node_modules/preact/LICENSE'),
      ];
      this.emitFile({ type: 'asset', fileName: 'THIRD-PARTY-NOTICES.txt', source: parts.join('\n\n') });
      this.emitFile({ type: 'asset', fileName: 'licenses/lightweight-charts/LICENSE', source: lwcLicense });
      this.emitFile({ type: 'asset', fileName: 'licenses/lightweight-charts/NOTICE', source: lwcNotice });
    },
  };
}

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  plugins: [licences(), devShim(target)],
  build: {
    target: 'es2022',
    // No inline script: the page's CSP is script-src 'self'.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: { port: 5173, proxy },
  // `vite preview` serves the build with the server's Content-Security-Policy, to check it.
  preview: { port: 4173, proxy, headers: { 'content-security-policy': CSP } },
  test: {
    include: ['tests/**/*.test.ts', 'tests/**/*.test.tsx'],
    environment: 'node',
  },
});
