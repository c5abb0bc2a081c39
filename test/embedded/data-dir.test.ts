// `DATABASE_URL=… npm start` (documented): the database is configured, the Stripe simulator is the
// embedded one, and DATA_DIR, which it keeps its journal and webhook secret in, may not exist yet.
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import Stripe from 'stripe';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { startService } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { checkoutBasket, request, startTestService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

let parent: string;
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'checkout-data-dir-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('DATA_DIR with DATABASE_URL and the embedded Stripe simulator', () => {
  it('is created at start, and an order is paid through the simulator’s confirm → webhook → PAYMENT_CONFIRMED', async () => {
    const dataDir = join(parent, 'not', 'there', 'yet');
    const service = await startTestService({ DATA_DIR: dataDir });
    try {
      expect(existsSync(join(dataDir, 'stripe-simulator.jsonl'))).toBe(true);
      expect(existsSync(join(dataDir, 'stripe-simulator.webhook-secret'))).toBe(true);
      const order = await checkoutBasket(service);
      // What the frontend's Stripe.js does, against the simulator.
      const frontend = new Stripe('sk_test_frontend', { host: service.simulator.host, port: service.simulator.port, protocol: 'http' });
      expect((await frontend.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' })).status).toBe('succeeded');
      await service.simulator.webhooks.idle();
      expect(service.simulator.webhooks.deliveries.filter((d) => d.type === 'payment_intent.succeeded').map((d) => d.status)).toEqual([200]);
      const paid = await request(service, 'GET', `/orders/${order.orderId}`);
      expect(paid.body).toMatchObject({ status: 'PAYMENT_CONFIRMED', paymentIntentId: order.paymentIntentId });
    } finally {
      await service.stop();
    }
  });

  it('a simulator port already taken stops the start with the reason, and leaves no connection open', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const db = await createTestDatabase();
    try {
      const config = loadConfig({
        DATABASE_URL: db.appUrl, DATA_DIR: join(parent, 'port-taken'), PORT: '0', JOBS_INTERVAL_SECONDS: '0',
        STRIPE_SIMULATOR_PORT: String((taken.address() as AddressInfo).port),
      });
      const before = await connections(db);
      await expect(startService(config, pino({ level: 'silent' }))).rejects.toThrow(/EADDRINUSE/);
      // The service's pool, opened before the simulator, was closed on the way out (a backend
      // leaves pg_stat_activity a moment after its client has gone).
      await waitUntil('the service\'s connections are gone', async () => (await connections(db)) === before, 5_000);
    } finally {
      taken.close();
      await db.drop();
    }
  });

  it('that cannot be created stops the start with a message naming DATA_DIR', async () => {
    const file = join(parent, 'a-file');
    await writeFile(file, 'not a folder');
    const config = loadConfig({
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/unused', DATA_DIR: join(file, 'data'), PORT: '0', STRIPE_SIMULATOR_PORT: '0', JOBS_INTERVAL_SECONDS: '0',
    });
    await expect(startService(config, pino({ level: 'silent' }))).rejects.toThrow(/^DATA_DIR .*a-file\/data cannot be created \(ENOTDIR/);
  });
});

/** Connections to the test's database, the one asking not counted. */
function connections(db: TestDatabase): Promise<number> {
  return db.admin.oneFirst(sql.type(z.object({ n: z.number() }))`
    select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`);
}
