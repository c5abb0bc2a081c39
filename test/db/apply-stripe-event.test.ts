// DESIGN.md "The hard cases": apply_stripe_event de-duplicates on the event id, finds the order by
// metadata.order_id, never confirms a mismatched payment, records anomalies for a person.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { countRows, createOrder, orderIn, paymentIntentIdFor, seedCatalog, statusOf } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

// Shaped like Stripe's objects (see stripe-fixtures/), with only the fields the function reads plus a few.
function paymentIntent(orderId: string | null, over: Record<string, unknown> = {}) {
  const id = orderId ? paymentIntentIdFor(orderId) : `pi_unknown${randomUUID().slice(0, 8)}`;
  return {
    id, object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd', status: 'succeeded',
    metadata: orderId ? { order_id: orderId } : {}, last_payment_error: null, cancellation_reason: null, ...over,
  };
}
function charge(orderId: string, over: Record<string, unknown> = {}) {
  return {
    id: `ch_${randomUUID().slice(0, 8)}`, object: 'charge', payment_intent: paymentIntentIdFor(orderId),
    amount: 1198, amount_refunded: 1198, refunded: true, currency: 'nzd', ...over,
  };
}

const outcome = z.object({ outcome: z.string(), orderId: z.string().nullable(), anomaly: z.string().nullable().optional() });
const apply = (type: string, object: object, eventId = `evt_${randomUUID().replaceAll('-', '')}`) =>
  db.app
    .oneFirst(sql.type(z.object({ r: outcome }))`select checkout.apply_stripe_event(${eventId}, ${type}, ${sql.jsonb(object as never)}) as r`)
    .then((r) => ({ ...r, eventId }));

const ledger = (eventId: string) =>
  db.admin.one(sql.type(z.record(z.string(), z.unknown()))`select type, outcome, order_id, payment_intent_id, detail from checkout.stripe_events where id = ${eventId}`);
const lastHistory = (orderId: string) =>
  db.admin.one(sql.unsafe`
    select from_status, to_status, source, reason, stripe_event_id from checkout.order_status_history
     where order_id = ${orderId} order by id desc limit 1`);
const anomaliesOf = (eventId: string) =>
  db.admin.any(sql.unsafe`select kind, order_id, payment_intent_id from checkout.payment_anomalies where stripe_event_id = ${eventId}`);

describe('payment_intent.succeeded', () => {
  it('confirms the order, found by metadata.order_id before the PaymentIntent is attached', async () => {
    const { orderId } = await createOrder(db.app);
    const r = await apply('payment_intent.succeeded', paymentIntent(orderId));
    expect(r).toMatchObject({ outcome: 'applied', orderId, anomaly: null });
    expect(await statusOf(db.admin, orderId)).toBe('PAYMENT_CONFIRMED');
    const order = await db.admin.one(sql.unsafe`select payment_intent_id, amount_received::int from checkout.orders where id = ${orderId}`);
    expect(order).toEqual({ payment_intent_id: paymentIntentIdFor(orderId), amount_received: 1198 });
    expect(await ledger(r.eventId)).toEqual({
      type: 'payment_intent.succeeded', outcome: 'applied', order_id: orderId, payment_intent_id: paymentIntentIdFor(orderId), detail: null,
    });
    expect(await lastHistory(orderId)).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'PAYMENT_CONFIRMED', source: 'stripe_webhook', reason: 'payment succeeded', stripe_event_id: r.eventId,
    });
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
  });

  it('is found by the attached PaymentIntent id when metadata is missing', async () => {
    const { orderId, checkoutToken } = await createOrder(db.app);
    await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${checkoutToken})`);
    const r = await apply('payment_intent.succeeded', paymentIntent(orderId, { metadata: {} }));
    expect(r).toMatchObject({ outcome: 'applied', orderId });
  });

  it('a redelivery is a duplicate and changes nothing', async () => {
    const { orderId } = await createOrder(db.app);
    const first = await apply('payment_intent.succeeded', paymentIntent(orderId));
    const again = await apply('payment_intent.succeeded', paymentIntent(orderId), first.eventId);
    expect(again).toMatchObject({ outcome: 'duplicate', orderId });
    expect((await ledger(first.eventId)).outcome).toBe('applied');
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(2);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
  });

  it('another succeeded event for a confirmed order is ignored', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    expect(await apply('payment_intent.succeeded', paymentIntent(orderId))).toMatchObject({ outcome: 'ignored', orderId });
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
  });

  it.each([
    ['amount_mismatch', { amount: 1197, amount_received: 1197 }],
    ['currency_mismatch', { currency: 'aud' }],
  ])('%s: anomaly, order stays PENDING_PAYMENT, nothing confirmed', async (kind, over) => {
    const { orderId } = await createOrder(db.app);
    const r = await apply('payment_intent.succeeded', paymentIntent(orderId, over));
    expect(r).toMatchObject({ outcome: 'anomaly', orderId, anomaly: kind });
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await anomaliesOf(r.eventId)).toEqual([{ kind, order_id: orderId, payment_intent_id: paymentIntentIdFor(orderId) }]);
    expect((await ledger(r.eventId)).outcome).toBe('anomaly');
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(1);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });

  it('payment_intent_mismatch: money taken through another PaymentIntent', async () => {
    const { orderId, checkoutToken } = await createOrder(db.app);
    await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${checkoutToken})`);
    const r = await apply('payment_intent.succeeded', paymentIntent(orderId, { id: 'pi_someotherintent' }));
    expect(r).toMatchObject({ outcome: 'anomaly', anomaly: 'payment_intent_mismatch', orderId });
    expect(await anomaliesOf(r.eventId)).toEqual([{ kind: 'payment_intent_mismatch', order_id: orderId, payment_intent_id: 'pi_someotherintent' }]);
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
  });

  it.each(['EXPIRED', 'CANCELLED'] as const)('paid_after_close for an %s order, status unchanged', async (status) => {
    const orderId = await orderIn(db, status);
    const r = await apply('payment_intent.succeeded', paymentIntent(orderId));
    expect(r).toMatchObject({ outcome: 'anomaly', anomaly: 'paid_after_close', orderId });
    expect(await anomaliesOf(r.eventId)).toEqual([{ kind: 'paid_after_close', order_id: orderId, payment_intent_id: paymentIntentIdFor(orderId) }]);
    expect(await statusOf(db.admin, orderId)).toBe(status);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });

  it('unknown_order: no order with that metadata.order_id or PaymentIntent', async () => {
    const r = await apply('payment_intent.succeeded', paymentIntent(null));
    expect(r).toMatchObject({ outcome: 'anomaly', anomaly: 'unknown_order', orderId: null });
    expect(await anomaliesOf(r.eventId)).toEqual([{ kind: 'unknown_order', order_id: null, payment_intent_id: expect.stringMatching(/^pi_unknown/) }]);
    expect(await ledger(r.eventId)).toMatchObject({ outcome: 'anomaly', order_id: null });
  });
});

describe('payment_intent.payment_failed', () => {
  const failure = { status: 'requires_payment_method', amount_received: 0,
    last_payment_error: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } };

  it('is recorded on a pending order, which stays PENDING_PAYMENT (the customer may retry)', async () => {
    const { orderId } = await createOrder(db.app);
    const r = await apply('payment_intent.payment_failed', paymentIntent(orderId, failure));
    expect(r).toMatchObject({ outcome: 'applied', orderId });
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await ledger(r.eventId)).toMatchObject({
      outcome: 'applied', order_id: orderId,
      detail: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'Your card has insufficient funds.' },
    });
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(1);
  });

  it('after succeeded is ignored: no regression of state', async () => {
    const { orderId } = await createOrder(db.app);
    await apply('payment_intent.succeeded', paymentIntent(orderId));
    const r = await apply('payment_intent.payment_failed', paymentIntent(orderId, failure));
    expect(r).toMatchObject({ outcome: 'ignored', orderId });
    expect(await statusOf(db.admin, orderId)).toBe('PAYMENT_CONFIRMED');
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(2);
  });
});

describe('payment_intent.canceled', () => {
  const canceled = { status: 'canceled', amount_received: 0, cancellation_reason: 'requested_by_customer' };

  it('cancels a pending order, with the reason and event id in the history', async () => {
    const { orderId } = await createOrder(db.app);
    const r = await apply('payment_intent.canceled', paymentIntent(orderId, canceled));
    expect(r).toMatchObject({ outcome: 'applied', orderId });
    expect(await lastHistory(orderId)).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'CANCELLED', source: 'stripe_webhook',
      reason: 'PaymentIntent canceled: requested_by_customer', stripe_event_id: r.eventId,
    });
  });

  it('expires a pending order when the expiry job cancelled it (reason abandoned) and its webhook came first', async () => {
    const { orderId } = await createOrder(db.app);
    const r = await apply('payment_intent.canceled', paymentIntent(orderId, { ...canceled, cancellation_reason: 'abandoned' }));
    expect(r).toMatchObject({ outcome: 'applied', orderId });
    expect(await lastHistory(orderId)).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'EXPIRED', source: 'stripe_webhook',
      reason: 'PaymentIntent canceled: abandoned', stripe_event_id: r.eventId,
    });
  });

  it('for an order the expiry job already closed: ignored', async () => {
    const orderId = await orderIn(db, 'EXPIRED');
    expect(await apply('payment_intent.canceled', paymentIntent(orderId, canceled))).toMatchObject({ outcome: 'ignored', orderId });
    expect(await statusOf(db.admin, orderId)).toBe('EXPIRED');
  });

  it('canceled_after_payment: anomaly, the paid order stays confirmed', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    const r = await apply('payment_intent.canceled', paymentIntent(orderId, canceled));
    expect(r).toMatchObject({ outcome: 'anomaly', anomaly: 'canceled_after_payment', orderId });
    expect(await anomaliesOf(r.eventId)).toHaveLength(1);
    expect(await statusOf(db.admin, orderId)).toBe('PAYMENT_CONFIRMED');
  });
});

describe('charge.refunded', () => {
  it('in full: REFUNDED, history with the event id', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    const r = await apply('charge.refunded', charge(orderId));
    expect(r).toMatchObject({ outcome: 'applied', orderId });
    expect(await statusOf(db.admin, orderId)).toBe('REFUNDED');
    expect(await lastHistory(orderId)).toEqual({
      from_status: 'PAYMENT_CONFIRMED', to_status: 'REFUNDED', source: 'stripe_webhook', reason: 'refunded in full', stripe_event_id: r.eventId,
    });
    expect(await ledger(r.eventId)).toMatchObject({ outcome: 'applied', order_id: orderId, detail: { amountRefunded: 1198 } });
  });

  it('partially: amount recorded, status and history unchanged, then the rest refunds it', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    const partial = await apply('charge.refunded', charge(orderId, { amount_refunded: 500, refunded: false }));
    expect(partial).toMatchObject({ outcome: 'applied', orderId });
    expect(await statusOf(db.admin, orderId)).toBe('PAYMENT_CONFIRMED');
    expect(await db.admin.oneFirst(sql.unsafe`select amount_refunded::int from checkout.orders where id = ${orderId}`)).toBe(500);
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(2);
    expect(await apply('charge.refunded', charge(orderId))).toMatchObject({ outcome: 'applied' });
    expect(await statusOf(db.admin, orderId)).toBe('REFUNDED');
  });

  it('before the payment is confirmed: recorded on the pending order, no transition, no event (test/db/refunds)', async () => {
    const { orderId, checkoutToken } = await createOrder(db.app);
    await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${checkoutToken})`);
    const r = await apply('charge.refunded', charge(orderId, { amount_refunded: 500, refunded: false }));
    expect(r).toMatchObject({ outcome: 'applied', orderId, anomaly: null });
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await db.admin.oneFirst(sql.unsafe`select amount_refunded::int from checkout.orders where id = ${orderId}`)).toBe(500);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });

  it.each(['CANCELLED', 'EXPIRED'] as const)('refund_for_unpaid_order: anomaly for a %s order', async (status) => {
    const orderId = await orderIn(db, status);
    const r = await apply('charge.refunded', charge(orderId, { metadata: { order_id: orderId } }));
    expect(r).toMatchObject({ outcome: 'anomaly', anomaly: 'refund_for_unpaid_order', orderId });
    expect(await anomaliesOf(r.eventId)).toEqual([{ kind: 'refund_for_unpaid_order', order_id: orderId, payment_intent_id: paymentIntentIdFor(orderId) }]);
    expect(await statusOf(db.admin, orderId)).toBe(status);
  });
});

describe('other event types', () => {
  it('are recorded as ignored, with no order', async () => {
    const r = await apply('customer.created', { id: 'cus_123', object: 'customer' });
    expect(r).toMatchObject({ outcome: 'ignored', orderId: null });
    expect(await ledger(r.eventId)).toEqual({ type: 'customer.created', outcome: 'ignored', order_id: null, payment_intent_id: null, detail: null });
    expect(await anomaliesOf(r.eventId)).toEqual([]);
  });
});
