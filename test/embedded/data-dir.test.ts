// `DATABASE_URL=… npm start` (documented): the database is configured, the Stripe simulator is the
// embedded one, and DATA_DIR, which it keeps its journal and webhook secret in, may not exist yet.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import Stripe from 'stripe';
import { loadConfig } from '../../src/config.ts';
import { startService } from '../../src/server.ts';
import { checkoutBasket, request, startTestService } from '../support/service.ts';

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

  it('that cannot be created stops the start with a message naming DATA_DIR', async () => {
    const file = join(parent, 'a-file');
    await writeFile(file, 'not a folder');
    const config = loadConfig({
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/unused', DATA_DIR: join(file, 'data'), PORT: '0', STRIPE_SIMULATOR_PORT: '0', JOBS_INTERVAL_SECONDS: '0',
    });
    await expect(startService(config, pino({ level: 'silent' }))).rejects.toThrow(/^DATA_DIR .*a-file\/data cannot be created \(ENOTDIR/);
  });
});
