// Starts a real `bourse demo` for the end-to-end tests: its own port, its own journal in a
// fresh directory, no simulated market (the tests make their own, so every book they compare
// is one they know), no trading calendar (always open: continuous trading, as the tests
// assume), an operator token so a test can fund a market maker, and bank transfers that
// settle after 10 s.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  srv.close();
  await once(srv, 'close');
  return port;
}

async function waitHealthy(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`bourse did not become healthy at ${url} within ${ms} ms (${last})`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.BOURSE_URL && process.env.BOURSE_OPERATOR_TOKEN) {
    // A server someone else runs (e.g. the measurement scripts' own).
    return async () => {};
  }
  const bin = process.env.BOURSE_BIN ?? resolve(here, '../../target/debug/bourse');
  const port = Number(process.env.BOURSE_E2E_PORT ?? (await freePort()));
  const dir = await mkdtemp(join(tmpdir(), 'bourse-e2e-'));
  const operator = randomBytes(24).toString('hex');
  const url = `http://127.0.0.1:${port}`;
  const results = join(here, '..', 'test-results');
  await mkdir(join(results, 'screenshots'), { recursive: true });
  const log = createWriteStream(join(results, 'server.log'));
  const child = spawn(bin, ['demo', '--rate', process.env.BOURSE_E2E_DEMO_RATE ?? '0', '--day-minutes', '0'], {
    cwd: dir,
    env: {
      ...process.env,
      BOURSE__SERVER__LISTEN: `127.0.0.1:${port}`,
      BOURSE__SERVER__OPERATOR_TOKEN: operator,
      // Every test signs its own users up from one IP.
      BOURSE__SERVER__RATE_PER_IP: '1000',
      // Bank transfers settle in seconds, not the demo's two minutes, so funding.spec.ts sees
      // a deposit settle. Only transfers with a linked bank wait at all: the other specs'
      // book transfers are done at once either way.
      BOURSE__FUNDING__SETTLE_AFTER_SECS: process.env.BOURSE_E2E_SETTLE_SECS ?? '10',
      BOURSE__JOURNAL__DIR: join(dir, 'journal'),
      BOURSE__JOURNAL__BACKEND: 'file',
      BOURSE__JOURNAL__DATABASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`bourse demo exited early with ${String(code)}: see web/test-results/server.log`);
  });
  await Promise.race([waitHealthy(url, 60_000), exited]);
  exited.catch(() => {});
  process.env.BOURSE_URL = url;
  process.env.BOURSE_OPERATOR_TOKEN = operator;
  return async () => {
    child.kill('SIGTERM');
    await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    log.end();
    await rm(dir, { recursive: true, force: true });
  };
}
