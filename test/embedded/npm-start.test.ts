// A new user's first run: `npm start` with nothing configured brings up its own PostgreSQL and the
// Stripe simulator; a checkout paid with a test card is confirmed; data survives a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import Stripe from 'stripe';
import { freePort } from '../support/wait.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;

type Started = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

/** `npm start` in a clean environment (no DATABASE_URL, no Stripe key), waiting for its banner. */
async function npmStart(env: Record<string, string>): Promise<Started> {
  const child = spawn('npm', ['start'], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  while (!/checkout-service is listening on/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, output: () => output, exited };
}

/**
 * SIGTERM to the whole process group, as a terminal's Ctrl-C or a container stop does (npm itself
 * exits at once without waiting for its child). Resolves once every process of the group is gone
 * and says whether the service shut down gracefully.
 */
async function stop(started: Started): Promise<boolean> {
  const group = -started.child.pid!;
  process.kill(group, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (groupAlive(group)) {
    if (Date.now() > deadline) {
      process.kill(group, 'SIGKILL');
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return /shutting down: finishing in-flight requests/.test(started.output()) && !/could not start|"level":[56]0/.test(started.output());
}

function groupAlive(group: number): boolean {
  try {
    process.kill(group, 0);
    return true;
  } catch {
    return false;
  }
}

let dataDir: string;
let env: Record<string, string>;
let running: Started | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'checkout-new-user-'));
  await chmod(dataDir, 0o755); // the embedded server runs as the postgres user when we are root
  env = {
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
    STRIPE_SIMULATOR_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
  };
});

afterAll(async () => {
  if (running && groupAlive(-running.child.pid!)) await stop(running);
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start on embedded defaults', () => {
  let orderId: string;

  it('serves a checkout, and a test card payment confirms it through the signed webhook', async () => {
    running = await npmStart(env);
    const url = `http://127.0.0.1:${env.PORT}`;
    expect(running.output()).toContain(`checkout-service is listening on ${url}`);
    expect(running.output()).toContain('curl -s -X POST');

    const checkout = await fetch(`${url}/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'new-user-1' },
      body: JSON.stringify({ customerId: 'c-123', items: [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }] }),
    });
    expect(checkout.status).toBe(201);
    const order = (await checkout.json()) as { orderId: string; paymentIntentId: string; clientSecret: string; amountTotal: number };
    expect(order.clientSecret).toMatch(/^pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/);
    orderId = order.orderId;

    // What the frontend's Stripe.js would do, here against the simulator the banner names.
    const stripe = new Stripe('sk_test_new_user', { host: '127.0.0.1', port: Number(env.STRIPE_SIMULATOR_PORT), protocol: 'http' });
    const paid = await stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    expect(paid.status).toBe('succeeded');

    let status = '';
    for (let i = 0; i < 100 && status !== 'PAYMENT_CONFIRMED'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = ((await (await fetch(`${url}/orders/${orderId}`)).json()) as { status: string }).status;
    }
    expect(status).toBe('PAYMENT_CONFIRMED');

    // Issue 10.4: the service logged in as checkout_app with a password of this DATA_DIR's own; the
    // superuser is only the owner (migrations, demo catalog). Both transitions name checkout_app.
    expect((await stat(join(dataDir, 'checkout_app.password'))).mode & 0o777).toBe(0o600);
    const owner = new pg.Client({
      host: '127.0.0.1', port: Number(env.EMBEDDED_POSTGRES_PORT), database: 'checkout', user: 'postgres',
      password: (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim(),
    });
    await owner.connect();
    try {
      const { rows } = await owner.query('select to_status, db_user from checkout.order_status_history where order_id = $1 order by id', [orderId]);
      expect(rows).toEqual([{ to_status: 'PENDING_PAYMENT', db_user: 'checkout_app' }, { to_status: 'PAYMENT_CONFIRMED', db_user: 'checkout_app' }]);
    } finally {
      await owner.end();
    }
    expect(await stop(running)).toBe(true);
  });

  it('keeps its data across a restart', async () => {
    running = await npmStart(env);
    const response = await fetch(`http://127.0.0.1:${env.PORT}/orders/${orderId}`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('PAYMENT_CONFIRMED');
    expect(await stop(running)).toBe(true);
  });
});
