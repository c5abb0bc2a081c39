// What each event type does to an order, and what it must never do: no illegal transition, no
// confirmation of money that does not match, anomalies recorded for a person.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { basket, postCheckout, request, startTestService, type TestService } from '../support/service.ts';
import {
  anomaliesFor, historyOf, ledgerRow, orderRow, outboxOf, paymentIntentObject, postEvent, stripeEvent,
} from '../support/stripe-events.ts';
import { expireOrderAsJob } from '../support/orders.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

type Order = { orderId: string; paymentIntentId: string; amountTotal: number };

async function pendingOrder(): Promise<Order> {
  const response = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  expect(response.status).toBe(201);
  await service.simulator.webhooks.idle();
  return response.body;
}

async function paidOrder(): Promise<Order> {
  const order = await pendingOrder();
  await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
  await service.simulator.webhooks.idle();
  expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
  return order;
}

const piEvent = (type: string, order: Order, fields: { status?: string; amountReceived?: number; currency?: string; orderId?: string } = {}) =>
  stripeEvent(type, paymentIntentObject({ id: order.paymentIntentId, orderId: fields.orderId ?? order.orderId, amount: order.amountTotal, ...fields }));

/** Posts the event; expects 200 with `outcome` and, for an anomaly, one anomaly row of `kind`. */
async function deliver(event: ReturnType<typeof stripeEvent>, outcome: string, kind?: string) {
  const response = await postEvent(service, event);
  expect(response.status).toBe(200);
  expect(response.body).toMatchObject({ received: true, outcome });
  expect((await ledgerRow(service.db.admin, event.id))?.outcome).toBe(outcome);
  expect((await anomaliesFor(service.db.admin, event.id)).map((a) => a.kind)).toEqual(kind ? [kind] : []);
  return response;
}

const transitionsOf = async (orderId: string) => (await historyOf(service.db.admin, orderId)).map((h) => h.to_status);

describe('payment_intent.payment_failed', () => {
  it('after succeeded → ignored, still PAYMENT_CONFIRMED', async () => {
    const order = await paidOrder();
    await deliver(piEvent('payment_intent.payment_failed', order, { status: 'requires_payment_method' }), 'ignored');
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED']);
  });

  it('declined card (pm_card_chargeDeclined) → stays PENDING_PAYMENT with a paymentEvents entry', async () => {
    const order = await pendingOrder();
    await expect(service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_chargeDeclined' }))
      .rejects.toMatchObject({ type: 'StripeCardError', code: 'card_declined' });
    await service.simulator.webhooks.idle();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT']);
    const shown = await request(service, 'GET', `/orders/${order.orderId}`);
    expect(shown.body.status).toBe('PENDING_PAYMENT');
    expect(shown.body.paymentEvents).toContainEqual(expect.objectContaining({
      type: 'payment_intent.payment_failed', outcome: 'applied', detail: expect.objectContaining({ code: 'card_declined' }),
    }));
  });
});

describe('payment_intent.canceled', () => {
  it('for a pending order (cancelled at the simulator) → CANCELLED', async () => {
    const order = await pendingOrder();
    await service.stripe.paymentIntents.cancel(order.paymentIntentId);
    await service.simulator.webhooks.idle();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('CANCELLED');
    expect(await outboxOf(service.db.admin, order.orderId)).toEqual([]);
  });

  it('for a confirmed order → anomaly canceled_after_payment, no transition', async () => {
    const order = await paidOrder();
    await deliver(piEvent('payment_intent.canceled', order, { status: 'canceled' }), 'anomaly', 'canceled_after_payment');
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PAYMENT_CONFIRMED');
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED']);
  });
});

describe('payment_intent.succeeded that must not confirm', () => {
  it.each(['EXPIRED', 'CANCELLED'])('for a closed order (%s) → anomaly paid_after_close, no transition, no outbox row', async (closed) => {
    const order = await pendingOrder();
    const close = closed === 'EXPIRED'
      ? expireOrderAsJob(order.orderId)
      : sql.unsafe`select checkout.cancel_order(${order.orderId}, 'test', 'customer gave up')`;
    // cancel_order is internal (apply_stripe_event reaches it): the owner closes the order here.
    await service.db.admin.query(close);
    await deliver(piEvent('payment_intent.succeeded', order), 'anomaly', 'paid_after_close');
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe(closed);
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT', closed]);
    expect(await outboxOf(service.db.admin, order.orderId)).toEqual([]);
  });

  it.each([
    ['amount_mismatch', { amountReceived: 1197 }],
    ['currency_mismatch', { currency: 'aud' }],
  ] as const)('%s → never confirmed, anomaly recorded', async (kind, fields) => {
    const order = await pendingOrder();
    await deliver(piEvent('payment_intent.succeeded', order, fields), 'anomaly', kind);
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'PENDING_PAYMENT', amount_received: null });
    expect(await outboxOf(service.db.admin, order.orderId)).toEqual([]);
  });

  it('for an order this service does not know → 200, anomaly unknown_order', async () => {
    const order = await pendingOrder();
    const stranger = { ...order, paymentIntentId: `pi_unknown${randomUUID().slice(0, 8)}` };
    const event = piEvent('payment_intent.succeeded', stranger, { orderId: randomUUID() });
    const response = await deliver(event, 'anomaly', 'unknown_order');
    expect(response.body.orderId).toBeNull();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');
  });
});

describe('other events', () => {
  it('an unhandled type → 200 ignored, recorded in the ledger', async () => {
    const event = stripeEvent('customer.created', { id: 'cus_test1', object: 'customer' });
    await deliver(event, 'ignored');
    expect(await ledgerRow(service.db.admin, event.id)).toMatchObject({ type: 'customer.created', order_id: null });
  });

  it('a full refund at the simulator → REFUNDED', async () => {
    const order = await paidOrder();
    await service.stripe.refunds.create({ payment_intent: order.paymentIntentId });
    await service.simulator.webhooks.idle();
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'REFUNDED', amount_refunded: 1198 });
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'REFUNDED']);
  });

  it('a partial refund → amountRefunded recorded, status unchanged', async () => {
    const order = await paidOrder();
    await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount: 300 });
    await service.simulator.webhooks.idle();
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_refunded: 300 });
    const shown = await request(service, 'GET', `/orders/${order.orderId}`);
    expect(shown.body).toMatchObject({ status: 'PAYMENT_CONFIRMED', amountRefunded: 300 });
    expect(await transitionsOf(order.orderId)).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED']);
  });
});
