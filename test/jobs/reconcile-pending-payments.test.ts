// A missed webhook: reconciliation asks Stripe (the simulator) and applies what it says, once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { reconcilePendingPayments } from '../../src/jobs/reconcile-pending-payments.ts';
import { endBackOff } from '../support/orders.ts';
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
const reconcile = () => reconcilePendingPayments({ pool: service.pool, stripe: service.stripe, logger }, { olderThanSeconds: 0, batchSize: 100 });

const checkout = () => checkoutBasket(service);

describe('reconcilePendingPayments', () => {
  it('a missed payment_intent.succeeded → PAYMENT_CONFIRMED by reconciliation, one outbox row; the late webhook is ignored', async () => {
    const order = await checkout();
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');

    const run = await reconcile();
    expect(run).toMatchObject({ skipped: false, outcomes: { confirmed: 1, failed: 0 } });
    const eventId = `reconcile:${order.paymentIntentId}:succeeded`;
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_received: 1198 });
    expect((await historyOf(service.db.admin, order.orderId)).at(-1)).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'PAYMENT_CONFIRMED', source: 'reconciliation', stripe_event_id: eventId,
    });
    expect(await ledgerRow(service.db.admin, eventId)).toEqual({ outcome: 'applied', order_id: order.orderId, type: 'payment_intent.succeeded' });
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(1);

    // Stripe delivers the real event after all: the order is settled, nothing changes.
    service.simulator.webhooks.resume();
    await service.simulator.webhooks.idle();
    const real = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === order.paymentIntentId);
    expect(service.simulator.webhooks.deliveries.filter((d) => d.eventId === real!.id).map((d) => d.status)).toEqual([200]);
    expect(await ledgerRow(service.db.admin, real!.id)).toEqual({ outcome: 'ignored', order_id: order.orderId, type: 'payment_intent.succeeded' });
    expect((await historyOf(service.db.admin, order.orderId)).filter((h) => h.to_status === 'PAYMENT_CONFIRMED')).toHaveLength(1);
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(1);
  });

  it('a missed payment_intent.canceled → CANCELLED by reconciliation', async () => {
    const order = await checkout();
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.cancel(order.paymentIntentId, { cancellation_reason: 'requested_by_customer' });

    const run = await reconcile();
    expect(run).toMatchObject({ skipped: false, outcomes: { cancelled: 1, failed: 0 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('CANCELLED');
    expect((await historyOf(service.db.admin, order.orderId)).at(-1)).toMatchObject({
      to_status: 'CANCELLED', source: 'reconciliation', stripe_event_id: `reconcile:${order.paymentIntentId}:canceled`,
    });
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(0);
  });

  it('a PaymentIntent still waiting for the customer → left pending, nothing recorded', async () => {
    const order = await checkout();
    await reconcile();
    expect(service.simulator.getPaymentIntent(order.paymentIntentId)!.status).toBe('requires_payment_method');
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');
    expect(await ledgerRow(service.db.admin, `reconcile:${order.paymentIntentId}:requires_payment_method`)).toBeNull();
    expect(await historyOf(service.db.admin, order.orderId)).toHaveLength(1);
  });

  it('Stripe failing → the order stays pending, is backed off, and is reconciled by a run after the pause', async () => {
    const order = await checkout();
    service.simulator.webhooks.pause();
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    service.simulator.faults.add({ method: 'GET', path: `/v1/payment_intents/${order.paymentIntentId}`, action: 'fail', status: 500, times: 'always' });

    const failed = await reconcile();
    expect(failed).toMatchObject({ skipped: false, outcomes: { failed: 1, confirmed: 0 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');

    service.simulator.faults.clear();
    const asked = () => service.simulator.requestLog.filter((r) => r.path === `/v1/payment_intents/${order.paymentIntentId}`).length;
    const before = asked();
    await reconcile();
    expect(asked()).toBe(before);
    await endBackOff(service.db.admin, order.orderId);
    expect(await reconcile()).toMatchObject({ outcomes: { confirmed: 1, failed: 0 } });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
    expect(await outboxOf(service.db.admin, order.orderId)).toHaveLength(1);
  });

  it('orders younger than the threshold are not asked about', async () => {
    const order = await checkout();
    const before = service.simulator.requestLog.length;
    await reconcilePendingPayments({ pool: service.pool, stripe: service.stripe, logger }, { olderThanSeconds: 3600, batchSize: 100 });
    expect(service.simulator.requestLog.slice(before).filter((r) => r.path.includes(order.paymentIntentId))).toEqual([]);
  });
});
