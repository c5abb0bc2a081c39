// Issue 9 item 1, the sweep: PaymentIntents that failed checkout attempts left at Stripe, which a
// resume could not find (search lags) or that no resume came for, are cancelled once search shows
// them; through the job, the official SDK and the simulator. Each test ends by counting the order's
// payable PaymentIntents at the simulator.
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { expireAbandonedOrders } from '../../src/jobs/expire-abandoned-orders.ts';
import { sweepOrphanPaymentIntents } from '../../src/jobs/sweep-orphan-payment-intents.ts';
import { checkoutFailingAfterStripeCreated, createRequests, payableOf, timePasses } from '../support/attempts.ts';
import { idleFor } from '../support/orders.ts';
import { basket, postCheckout, startTestService, type TestService } from '../support/service.ts';
import { orderRow, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.faults.clear();
  service.simulator.setSearchLag(0);
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const logs: string[] = [];
const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => void (logs.push(chunk.toString('utf8')), done()) }));
const AFTER = 600;
const sweep = () => sweepOrphanPaymentIntents({ pool: service.pool, stripe: service.stripe, logger }, { afterSeconds: AFTER, batchSize: 100 });
const checkoutWith = (key: string) => postCheckout(service, basket, { 'idempotency-key': key });

const later = (orderId: string, seconds: number) => timePasses(service, orderId, seconds);
const failedAfterCreating = () => checkoutFailingAfterStripeCreated(service);

describe('the sweep of PaymentIntents failed attempts left', () => {
  it('leaves a pending order without a PaymentIntent alone (a resume may still reuse it), and after its expiry cancels it', async () => {
    const { orderId, hidden } = await failedAfterCreating();
    await later(orderId, AFTER + 1);
    expect(await sweep()).toMatchObject({ examined: 0 });

    await idleFor(service.db.admin, orderId, 120);
    const expiry = await expireAbandonedOrders({ pool: service.pool, stripe: service.stripe, logger }, { olderThanSeconds: 3600, batchSize: 100, claimSeconds: 60 });
    expect(expiry).toMatchObject({ outcomes: { expired: 1, failed: 0 } });
    await later(orderId, AFTER + 1);
    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { cancelled: 1 } });
    await service.simulator.webhooks.idle();
    expect(service.simulator.getPaymentIntent(hidden)).toMatchObject({ status: 'canceled', cancellation_reason: 'duplicate' });
    expect((await orderRow(service.db.admin, orderId)).status).toBe('EXPIRED');
    expect(payableOf(service.simulator, orderId)).toEqual([]);
  });

  it('searches again a day later, for a PaymentIntent search showed later than the allowance (an outage)', async () => {
    service.simulator.setSearchLag(3600);
    const { key, orderId, hidden } = await failedAfterCreating();
    const resumed = await checkoutWith(key);
    expect(resumed.status).toBe(201);
    await later(orderId, AFTER + 1);
    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { clean: 1 } });
    expect(payableOf(service.simulator, orderId)).toContain(hidden);
    await later(orderId, 3600);
    expect(await sweep()).toMatchObject({ examined: 0 });

    await later(orderId, 24 * 60 * 60);
    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { cancelled: 1 } });
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
    await later(orderId, 30 * 24 * 60 * 60);
    expect(await sweep()).toMatchObject({ examined: 0 });
  });

  it('Stripe fails the search: the order is counted failed and backed off, and swept after the pause', async () => {
    service.simulator.setSearchLag(60);
    const { key, orderId, hidden } = await failedAfterCreating();
    const resumed = await checkoutWith(key);
    await later(orderId, AFTER + 1);
    service.simulator.faults.add({ method: 'GET', path: '/v1/payment_intents/search', action: 'fail', status: 500, times: 'always' });
    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { failed: 1 } });
    expect(await sweep()).toMatchObject({ examined: 0 });
    service.simulator.faults.clear();

    await service.db.admin.query(sql.unsafe`update checkout.payment_intent_sweeps set next_sweep_at = now() where order_id = ${orderId}`);
    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { cancelled: 1 } });
    expect(service.simulator.getPaymentIntent(hidden)!.status).toBe('canceled');
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
  });

  it('a PaymentIntent that is not the order\'s was paid: not ours to undo; logged, and an anomaly for a person through its webhook', async () => {
    service.simulator.setSearchLag(60);
    const { key, orderId, hidden } = await failedAfterCreating();
    const resumed = await checkoutWith(key);
    expect(resumed.body.paymentIntentId).not.toBe(hidden);
    // Only the secret key can pay it: its client secret was never handed out.
    await service.stripe.paymentIntents.confirm(hidden, { payment_method: 'pm_card_visa' });
    await later(orderId, AFTER + 1);

    expect(await sweep()).toMatchObject({ examined: 1, outcomes: { paidOrphan: 1 } });
    expect(logs.some((line) => line.includes('was paid') && line.includes(hidden))).toBe(true);
    expect(service.simulator.getPaymentIntent(hidden)!.status).toBe('succeeded');
    const anomalies = () => service.db.admin.anyFirst(sql.type(z.object({ kind: z.string() }))`
      select kind from checkout.payment_anomalies where payment_intent_id = ${hidden} and order_id = ${orderId}`);
    await waitUntil('its payment webhook records an anomaly', async () => (await anomalies()).length > 0);
    expect(await anomalies()).toEqual(['payment_intent_mismatch']);
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
    expect(createRequests(service.simulator, orderId)).toHaveLength(2);
  });
});
