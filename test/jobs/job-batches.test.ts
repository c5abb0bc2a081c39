// Issue 9 item 4 through the jobs and the simulator: bounded batches, least recently looked at
// first, and back-off for an order with an open payment anomaly.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import { expireAbandonedOrders } from '../../src/jobs/expire-abandoned-orders.ts';
import { reconcilePendingPayments } from '../../src/jobs/reconcile-pending-payments.ts';
import { createOrder, endBackOff, idleFor } from '../support/orders.ts';
import { checkoutBasket, startTestService, type TestService } from '../support/service.ts';
import { orderRow } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.webhooks.resume();
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const logger = pino({ level: 'silent' });
const deps = () => ({ pool: service.pool, stripe: service.stripe, logger });
const reconcile = (batchSize = 100) => reconcilePendingPayments(deps(), { olderThanSeconds: 3600, batchSize });
const expire = () => expireAbandonedOrders(deps(), { olderThanSeconds: 3600, batchSize: 100, claimSeconds: 60 });

const idle = (orderId: string, minutes: number) => idleFor(service.db.admin, orderId, minutes);
/** The PaymentIntents the simulator was asked for (GET), in order, since `from` requests. */
const retrieved = (from: number) =>
  service.simulator.requestLog.slice(from).filter((r) => r.method === 'GET').map((r) => r.path.replace('/v1/payment_intents/', ''));
const cancelled = (from: number) =>
  service.simulator.requestLog.slice(from).filter((r) => r.path.endsWith('/cancel')).map((r) => r.path.split('/')[3]);

describe('a run of reconciliation', () => {
  it('asks Stripe about at most the batch, the orders idle longest first; the next run starts with those it left', async () => {
    const orders = [await checkoutBasket(service), await checkoutBasket(service), await checkoutBasket(service)];
    await idle(orders[0]!.orderId, 180);
    await idle(orders[1]!.orderId, 150);
    await idle(orders[2]!.orderId, 120);

    let from = service.simulator.requestLog.length;
    expect(await reconcile(2)).toMatchObject({ skipped: false, examined: 2, outcomes: { unchanged: 2 } });
    expect(retrieved(from)).toEqual([orders[0]!.paymentIntentId, orders[1]!.paymentIntentId]);

    from = service.simulator.requestLog.length;
    expect(await reconcile(2)).toMatchObject({ examined: 2 });
    expect(retrieved(from)).toEqual([orders[2]!.paymentIntentId, orders[0]!.paymentIntentId]);
  });
});

describe('an order with an open payment anomaly', () => {
  it('is asked about once, then left alone by both jobs until its pause is over', async () => {
    // Paid at Stripe, but 1 cent short of the order: apply_stripe_event records amount_mismatch and
    // the order stays pending (never expire money taken).
    const { orderId, checkoutToken, amountTotal } = await createOrder(service.db.app);
    const paymentIntent = await service.stripe.paymentIntents.create({ amount: amountTotal - 1, currency: 'nzd', metadata: { order_id: orderId } });
    await service.db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntent.id}, ${checkoutToken})`);
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.confirm(paymentIntent.id, { payment_method: 'pm_card_visa' });
    await idle(orderId, 600);

    let from = service.simulator.requestLog.length;
    expect(await reconcile()).toMatchObject({ outcomes: { anomaly: 1, confirmed: 0 } });
    expect(retrieved(from)).toContain(paymentIntent.id);
    expect((await orderRow(service.db.admin, orderId)).status).toBe('PENDING_PAYMENT');

    from = service.simulator.requestLog.length;
    await reconcile();
    await expire();
    expect(retrieved(from)).not.toContain(paymentIntent.id);
    expect(cancelled(from)).not.toContain(paymentIntent.id);

    await endBackOff(service.db.admin, orderId);
    from = service.simulator.requestLog.length;
    expect(await reconcile()).toMatchObject({ outcomes: { anomaly: 1 } });
    expect(retrieved(from)).toContain(paymentIntent.id);
    expect(await service.db.admin.one(sql.unsafe`
      select failures, last_outcome from checkout.pending_order_checks where order_id = ${orderId}`)).toEqual({ failures: 2, last_outcome: 'open_anomaly' });
  });
});
