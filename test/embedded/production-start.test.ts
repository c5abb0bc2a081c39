// The Stripe simulator is a dev tool in its own package: `node src/main.ts` with a Stripe key set
// must not even load it. A module-load hook in the started process reports what it loads.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, waitUntil } from '../support/wait.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;
// registerHooks (node:module) sees every module the process loads, whatever imports it.
const recordLoads = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ load(url, context, nextLoad) { process.stderr.write('loaded ' + url + '\\n'); return nextLoad(url, context); } });
`)}`;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** `node src/main.ts` until /healthz answers, then SIGTERM; every module URL it loaded. */
async function modulesLoadedByStart(env: Record<string, string>): Promise<string[]> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', recordLoads, 'src/main.ts'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.appUrl, PORT: String(port), JOBS_INTERVAL_SECONDS: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await waitUntil('the service answers /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`the service exited: ${stderr.split('\n').filter((l) => !l.startsWith('loaded ')).join('\n')}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    }, 60_000);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return stderr.split('\n').filter((line) => line.startsWith('loaded ')).map((line) => line.slice('loaded '.length));
}

const simulatorModules = (urls: string[]) => urls.filter((url) => url.includes('/packages/stripe-simulator/'));

describe('loading the Stripe simulator', () => {
  it('a production start (STRIPE_SECRET_KEY set) never loads the simulator package', async () => {
    const loaded = await modulesLoadedByStart({ STRIPE_SECRET_KEY: 'sk_test_production_like', STRIPE_WEBHOOK_SECRET: 'whsec_production_like' });
    expect(loaded.some((url) => url.endsWith('/src/server.ts'))).toBe(true);
    expect(simulatorModules(loaded)).toEqual([]);
  });

  it('the embedded default (no STRIPE_SECRET_KEY) loads it, through the workspace link to its own sources', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'checkout-embedded-simulator-'));
    try {
      const loaded = await modulesLoadedByStart({ DATA_DIR: dataDir, STRIPE_SIMULATOR_PORT: String(await freePort()) });
      expect(simulatorModules(loaded)).toContain(new URL('packages/stripe-simulator/src/server.ts', `file://${repoRoot}`).href);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
