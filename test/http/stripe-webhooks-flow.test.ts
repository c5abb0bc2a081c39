// A paid order is confirmed exactly once however Stripe (the simulator) delivers the event.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { orderConfirmedErrors } from '../../src/events/event-schemas.ts';
import { createOrder } from '../support/orders.ts';
import { basket, postCheckout, request, startTestService, type TestService } from '../support/service.ts';
import {
  historyOf, ledgerRow, orderRow, outboxOf, paymentIntentObject, postEvent, stripeEvent,
} from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.webhooks.reset();
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

async function checkout() {
  const response = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  expect(response.status).toBe(201);
  return response.body as { orderId: string; paymentIntentId: string; amountTotal: number };
}

/** Exactly one PENDING_PAYMENT -> PAYMENT_CONFIRMED row and one outbox row. */
async function expectConfirmedOnce(orderId: string) {
  expect((await orderRow(service.db.admin, orderId)).status).toBe('PAYMENT_CONFIRMED');
  const confirmations = (await historyOf(service.db.admin, orderId)).filter((h) => h.to_status === 'PAYMENT_CONFIRMED');
  expect(confirmations).toHaveLength(1);
  expect((await outboxOf(service.db.admin, orderId)).filter((r) => r.type === 'OrderConfirmed')).toHaveLength(1);
}

describe('Stripe webhooks through the simulator', () => {
  it('checkout, confirm with pm_card_visa → PAYMENT_CONFIRMED, one audit row, one OrderConfirmed outbox row', async () => {
    const order = await checkout();
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();

    const succeeded = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === order.paymentIntentId);
    expect(succeeded).toBeDefined();
    expect(await orderRow(service.db.admin, order.orderId)).toEqual({
      status: 'PAYMENT_CONFIRMED', payment_intent_id: order.paymentIntentId, amount_received: 1198, amount_refunded: 0,
    });
    expect(await historyOf(service.db.admin, order.orderId)).toEqual([
      { from_status: null, to_status: 'PENDING_PAYMENT', source: 'checkout_api', stripe_event_id: null },
      { from_status: 'PENDING_PAYMENT', to_status: 'PAYMENT_CONFIRMED', source: 'stripe_webhook', stripe_event_id: succeeded!.id },
    ]);
    expect(await ledgerRow(service.db.admin, succeeded!.id)).toEqual({ outcome: 'applied', order_id: order.orderId, type: 'payment_intent.succeeded' });

    const outbox = await outboxOf(service.db.admin, order.orderId);
    expect(outbox).toHaveLength(1);
    const payload = outbox[0]!.payload;
    expect(orderConfirmedErrors(payload)).toEqual([]);
    expect(payload).toMatchObject({
      eventId: outbox[0]!.id, eventType: 'OrderConfirmed', orderId: order.orderId, customerId: basket.customerId,
      currency: 'nzd', amountTotal: 1198,
      lines: [{ sku: 'MILK-2L', name: expect.any(String), quantity: 2, unitAmount: 599, lineTotal: 1198 }],
      payment: { provider: 'stripe', paymentIntentId: order.paymentIntentId, amountReceived: 1198 },
    });

    const shown = await request(service, 'GET', `/orders/${order.orderId}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ status: 'PAYMENT_CONFIRMED', paymentIntentId: order.paymentIntentId });
    expect(shown.body.history.map((h: { to: string }) => h.to)).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED']);
  });

  it('the same signed event POSTed 20 times at once → all 200, one applied, 19 duplicates, one transition', async () => {
    const order = await checkout();
    await service.simulator.webhooks.idle();
    const event = stripeEvent('payment_intent.succeeded', paymentIntentObject({ id: order.paymentIntentId, orderId: order.orderId, amount: order.amountTotal }));
    const responses = await Promise.all(Array.from({ length: 20 }, () => postEvent(service, event)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const outcomes = responses.map((r) => r.body.outcome).sort();
    expect(outcomes).toEqual(['applied', ...Array(19).fill('duplicate')]);
    await expectConfirmedOnce(order.orderId);
    expect(await ledgerRow(service.db.admin, event.id)).toMatchObject({ outcome: 'applied' });
  });

  it('payment_intent.succeeded before the PaymentIntent id is attached: found through metadata.order_id', async () => {
    // The order as POST /checkout commits it before calling Stripe; the id is not attached yet.
    const { orderId } = await createOrder(service.db.app);
    expect((await orderRow(service.db.admin, orderId)).payment_intent_id).toBeNull();
    const pi = await service.stripe.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: orderId } });
    await service.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    expect(await orderRow(service.db.admin, orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', payment_intent_id: pi.id, amount_received: 1198 });
    await expectConfirmedOnce(orderId);
    expect((await outboxOf(service.db.admin, orderId))[0]!.payload).toMatchObject({ payment: { paymentIntentId: pi.id } });
  });
});

describe('simulator delivery modes → still exactly one confirmation', () => {
  it('delivered twice in a row', async () => {
    const order = await checkout();
    service.simulator.webhooks.once({ type: 'payment_intent.succeeded' }, { duplicate: 2 });
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    const succeeded = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === order.paymentIntentId);
    const copies = service.simulator.webhooks.deliveries.filter((d) => d.eventId === succeeded?.id);
    expect(copies.map((d) => [d.copy, d.status])).toEqual([[1, 200], [2, 200], [3, 200]]);
    await expectConfirmedOnce(order.orderId);
  });

  it('delivered 5 times concurrently', async () => {
    const order = await checkout();
    service.simulator.webhooks.once({ type: 'payment_intent.succeeded' }, { concurrent: 5 });
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    await expectConfirmedOnce(order.orderId);
  });

  it('delivered late, after the order was already looked at', async () => {
    const order = await checkout();
    service.simulator.webhooks.once({ type: 'payment_intent.succeeded' }, { delayMs: 400 });
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('PENDING_PAYMENT');
    await service.simulator.webhooks.idle();
    await expectConfirmedOnce(order.orderId);
  });

  it('out of order: a declined attempt\'s payment_failed arrives after the later succeeded', async () => {
    const order = await checkout();
    await service.simulator.webhooks.idle();
    // charge.failed, payment_intent.payment_failed, charge.succeeded, payment_intent.succeeded,
    // delivered one at a time in reverse. (holdNext releases its batch concurrently, so which of
    // them commits first was a race the tests lost on a fast server.)
    const before = service.simulator.webhooks.events.length;
    service.simulator.webhooks.pause();
    await expect(service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_chargeDeclined' })).rejects.toThrow();
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    for (const event of service.simulator.webhooks.events.slice(before).reverse()) await service.simulator.webhooks.send(event);
    service.simulator.webhooks.resume(); // the paused copies again: duplicates, which change nothing
    await service.simulator.webhooks.idle();
    await expectConfirmedOnce(order.orderId);
    const failed = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.payment_failed' && e.data.object.id === order.paymentIntentId);
    expect(await ledgerRow(service.db.admin, failed!.id)).toMatchObject({ outcome: 'ignored', order_id: order.orderId });
  });

  it('out of order: succeeded held back and delivered after a later charge.refunded', async () => {
    const order = await checkout();
    service.simulator.webhooks.hold({ type: 'payment_intent.succeeded' });
    await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount: 100 });
    const refunded = () => service.simulator.webhooks.events.find((e) => e.type === 'charge.refunded' && e.data.object.payment_intent === order.paymentIntentId);
    await service.simulator.webhooks.idle(); // everything but the held payment_intent.succeeded
    expect(service.simulator.webhooks.deliveries.some((d) => d.eventId === refunded()?.id)).toBe(true);
    service.simulator.webhooks.releaseHeld();
    await service.simulator.webhooks.idle();
    await expectConfirmedOnce(order.orderId);
    // The early refund was recorded on the pending order and applied with the confirmation:
    // OrderConfirmed, then OrderRefunded for the 100 that went back (test/db/refunds.test.ts).
    expect(await ledgerRow(service.db.admin, refunded()!.id)).toMatchObject({ outcome: 'applied', order_id: order.orderId });
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ amount_refunded: 100 });
    expect((await outboxOf(service.db.admin, order.orderId)).map((r) => [r.type, r.payload.amountRefunded ?? null]).sort())
      .toEqual([['OrderConfirmed', null], ['OrderRefunded', 100]]);
  });
});
