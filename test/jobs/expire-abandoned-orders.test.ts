// Abandoned orders: cancelled at Stripe (the simulator) first, then EXPIRED; never a paid one.
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { expireAbandonedOrders } from '../../src/jobs/expire-abandoned-orders.ts';
import type { JobDeps } from '../../src/jobs/job-deps.ts';
import { createOrder, endBackOff } from '../support/orders.ts';
import { checkoutBasket, startTestService, type TestService } from '../support/service.ts';
import { historyOf, ledgerRow, orderRow, outboxOf } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.faults.clear();
  service.simulator.webhooks.reset();
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const logger = pino({ level: 'silent' });
const deps = (): JobDeps => ({ pool: service.pool, stripe: service.stripe, logger });
const expire = (overrides: Partial<JobDeps> = {}) =>
  expireAbandonedOrders({ ...deps(), ...overrides }, { olderThanSeconds: 0, batchSize: 100, claimSeconds: 60 });

const checkout = () => checkoutBasket(service);

const cancelRequests = (paymentIntentId: string) =>
  service.simulator.requestLog.filter((r) => r.method === 'POST' && r.path === `/v1/payment_intents/${paymentIntentId}/cancel`);

describe('expireAbandonedOrders', () => {
  it('cancels the PaymentIntent (abandoned), then EXPIRED by expiry_job; the cancel webhook arriving later is ignored', async () => {
    const order = await checkout();
    // Webhooks take a moment in real life; held here so that the job's own step comes first.
    service.simulator.webhooks.pause();

    const run = await expire();
    expect(run).toMatchObject({ skipped: false, outcomes: { expired: 1, failed: 0 } });
    expect(service.simulator.getPaymentIntent(order.paymentIntentId)).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(cancelRequests(order.paymentIntentId).map((r) => r.status)).toEqual([200]);
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('EXPIRED');
    expect((await historyOf(service.db.admin, order.orderId)).at(-1)).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'EXPIRED', source: 'expiry_job', stripe_event_id: null,
    });

    service.simulator.webhooks.resume();
    await service.simulator.webhooks.idle();
    const canceled = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.canceled' && e.data.object.id === order.paymentIntentId);
    expect(await ledgerRow(service.db.admin, canceled!.id)).toEqual({ outcome: 'ignored', order_id: order.orderId, type: 'payment_intent.canceled' });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('EXPIRED');
  });

  it('when the webhook of its own cancel wins the race, the order still ends EXPIRED (reason abandoned)', async () => {
    const order = await checkout();
    const slowAfterCancel: JobDeps['stripe'] = {
      paymentIntents: {
        retrieve: service.stripe.paymentIntents.retrieve.bind(service.stripe.paymentIntents),
        cancel: (async (...args: Parameters<typeof service.stripe.paymentIntents.cancel>) => {
          const canceled = await service.stripe.paymentIntents.cancel(...args);
          await service.simulator.webhooks.idle();
          return canceled;
        }) as typeof service.stripe.paymentIntents.cancel,
      },
    };
    const run = await expire({ stripe: slowAfterCancel });
    expect(run).toMatchObject({ skipped: false, outcomes: { expired: 1, failed: 0 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('EXPIRED');
    expect((await historyOf(service.db.admin, order.orderId)).filter((h) => h.from_status === 'PENDING_PAYMENT')).toEqual([
      expect.objectContaining({ to_status: 'EXPIRED', source: 'stripe_webhook' }),
    ]);
  });

  it('paid at Stripe but its webhook missed → confirmed instead of expired, PaymentIntent not cancelled', async () => {
    const order = await checkout();
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });

    const run = await expire();
    expect(run).toMatchObject({ skipped: false, outcomes: { confirmed: 1, expired: 0, failed: 0 } });
    expect(service.simulator.getPaymentIntent(order.paymentIntentId)!.status).toBe('succeeded');
    expect(cancelRequests(order.paymentIntentId).map((r) => r.status)).toEqual([400]);
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
    expect((await historyOf(service.db.admin, order.orderId)).at(-1)).toMatchObject({
      to_status: 'PAYMENT_CONFIRMED', source: 'reconciliation', stripe_event_id: `reconcile:${order.paymentIntentId}:succeeded`,
    });
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(1);

    service.simulator.webhooks.resume();
    await service.simulator.webhooks.idle();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(1);
  });

  it('an order without a PaymentIntent (Stripe never reached) → EXPIRED directly', async () => {
    const { orderId } = await createOrder(service.db.app);
    const before = service.simulator.requestLog.length;
    const run = await expire();
    expect(run).toMatchObject({ skipped: false, outcomes: { expired: 1, failed: 0 } });
    expect(service.simulator.requestLog.length).toBe(before);
    expect((await orderRow(service.db.admin, orderId)).status).toBe('EXPIRED');
    expect((await historyOf(service.db.admin, orderId)).at(-1)).toMatchObject({ to_status: 'EXPIRED', source: 'expiry_job' });
  });

  it('an order whose POST /checkout is still at Stripe (it holds the lease) → not even listed, left pending for a later run', async () => {
    const created = await service.db.app.oneFirst(sql.type(z.object({ r: z.object({ order: z.object({ orderId: z.string() }), checkoutToken: z.string() }) }))`
      select checkout.create_order(${randomUUID()}, 'c-123', 'nzd', '[{"sku":"MILK-2L","quantity":1}]', interval '1 hour') as r`);
    const orderId = created.order.orderId;
    expect(await expire()).toMatchObject({ skipped: false, examined: 0 });
    expect((await orderRow(service.db.admin, orderId)).status).toBe('PENDING_PAYMENT');
    // As if the request had failed: the next run expires it.
    await service.db.app.query(sql.unsafe`select checkout.release_checkout_lease(${orderId}, ${created.checkoutToken})`);
    expect(await expire()).toMatchObject({ outcomes: { expired: 1 } });
  });

  it('a PaymentIntent already cancelled at Stripe → EXPIRED', async () => {
    const order = await checkout();
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.cancel(order.paymentIntentId);
    expect(await expire()).toMatchObject({ outcomes: { expired: 1, failed: 0 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('EXPIRED');
  });

  it('Stripe failing for one order → that order stays PENDING_PAYMENT and is backed off, the others are expired; a run after the pause expires it', async () => {
    const failing = await checkout();
    const other = await checkout();
    service.simulator.faults.add({ method: 'POST', path: `/v1/payment_intents/${failing.paymentIntentId}/cancel`, action: 'fail', status: 500, times: 'always' });
    service.simulator.webhooks.pause();

    const run = await expire();
    expect(run).toMatchObject({ skipped: false, outcomes: { expired: 1, failed: 1 } });
    expect((await orderRow(service.db.admin, failing.orderId)).status).toBe('PENDING_PAYMENT');
    expect(service.simulator.getPaymentIntent(failing.paymentIntentId)!.status).toBe('requires_payment_method');
    expect((await orderRow(service.db.admin, other.orderId)).status).toBe('EXPIRED');

    service.simulator.faults.clear();
    const cancels = cancelRequests(failing.paymentIntentId).length;
    expect(await expire()).toMatchObject({ examined: 0 });
    expect(cancelRequests(failing.paymentIntentId)).toHaveLength(cancels);
    await endBackOff(service.db.admin, failing.orderId);
    expect(await expire()).toMatchObject({ outcomes: { expired: 1, failed: 0 } });
    expect((await orderRow(service.db.admin, failing.orderId)).status).toBe('EXPIRED');
    expect(service.simulator.getPaymentIntent(failing.paymentIntentId)!.status).toBe('canceled');
  });

  it('Stripe unreachable (connection dropped) → the order stays PENDING_PAYMENT', async () => {
    const order = await checkout();
    service.simulator.faults.add({ method: 'POST', path: `/v1/payment_intents/${order.paymentIntentId}/cancel`, action: 'drop', times: 'always' });
    service.simulator.webhooks.pause();
    expect(await expire()).toMatchObject({ outcomes: { failed: 1 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');
    service.simulator.faults.clear();
    await endBackOff(service.db.admin, order.orderId);
    await expire();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('EXPIRED');
  });

  it('two runs at once on two pools of the same database → each order handled once, one cancel each', async () => {
    const orders = await Promise.all([checkout(), checkout(), checkout()]);
    service.simulator.webhooks.pause();
    // Holds the first cancel so that both runs are surely under way at the same time.
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents/*', action: 'stall', ms: 300 });

    const runs = await Promise.all([expire(), expire({ pool: service.db.app })]);
    expect(runs.filter((r) => r.skipped)).toHaveLength(1);
    expect(runs.find((r) => !r.skipped)).toMatchObject({ outcomes: { expired: 3, failed: 0 } });
    for (const order of orders) {
      expect(cancelRequests(order.paymentIntentId)).toHaveLength(1);
      expect((await historyOf(service.db.admin, order.orderId)).filter((h) => h.to_status === 'EXPIRED')).toHaveLength(1);
    }
  });
});
