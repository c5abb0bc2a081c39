// CONTRACT.md "Kafka: OrderRefunded" and the tenet: a payment refunded in full before its confirmation
// is never sent as OrderConfirmed; a partly refunded one is sent, followed by OrderRefunded in the same
// transaction; every refund applied after the confirmation writes one OrderRefunded; a failed refund is
// recorded for a person without an illegal transition.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { orderConfirmedErrors, orderRefundedErrors } from '../../src/events/event-schemas.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createOrder, paymentIntentIdFor, seedCatalog, statusOf } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const result = z.object({ outcome: z.string(), orderId: z.string().nullable(), anomaly: z.string().nullable().optional() });
const apply = (type: string, object: object, source = 'stripe_webhook') =>
  db.app.oneFirst(sql.type(z.object({ r: result }))`
    select checkout.apply_stripe_event(${`evt_${randomUUID().replaceAll('-', '')}`}, ${type}, ${sql.jsonb(object as never)}, ${source}) as r`);

/** A pending order (MILK-2L x2 = 1198) with its PaymentIntent attached, and Stripe-shaped objects for it. */
async function pendingOrder() {
  const { orderId, checkoutToken } = await createOrder(db.app);
  const pi = paymentIntentIdFor(orderId);
  await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${pi}, ${checkoutToken})`);
  const chargeId = `ch_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const charge = (amountRefunded: number) => ({
    id: chargeId, object: 'charge', amount: 1198, amount_captured: 1198, amount_refunded: amountRefunded,
    refunded: amountRefunded >= 1198, currency: 'nzd', payment_intent: pi, metadata: {}, status: 'succeeded',
  });
  const succeeded = (latestCharge: unknown = chargeId) => ({
    id: pi, object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd', status: 'succeeded',
    metadata: { order_id: orderId }, latest_charge: latestCharge, last_payment_error: null, cancellation_reason: null,
  });
  const refundUpdated = (status: string, amount = 1198) => ({
    id: `re_${randomUUID().replaceAll('-', '').slice(0, 24)}`, object: 'refund', amount, currency: 'nzd', status,
    charge: chargeId, payment_intent: pi, failure_reason: status === 'failed' ? 'expired_or_canceled_card' : null, metadata: {},
  });
  return { orderId, pi, chargeId, charge, succeeded, refundUpdated };
}

const outboxRow = z.object({ id: z.string(), type: z.string(), payload: z.record(z.string(), z.unknown()) });
/** The order's outbox rows in the order they were written (one transaction writes them in trigger order). */
const outbox = (orderId: string) =>
  db.admin.any(sql.type(outboxRow)`
    select id::text, type, payload from checkout.outbox where aggregateid = ${orderId} order by created_at, txid, type`);
const order = (orderId: string) =>
  db.admin.one(sql.type(z.object({
    status: z.string(), amount_refunded: z.number(), charge_id: z.string().nullable(), confirmed_event_id: z.string().nullable(),
  }))`select status::text, amount_refunded::int, charge_id, confirmed_event_id::text from checkout.orders where id = ${orderId}`);
const lastReason = (orderId: string) =>
  db.admin.oneFirst(sql.type(z.object({ reason: z.string().nullable() }))`
    select reason from checkout.order_status_history where order_id = ${orderId} order by id desc limit 1`);

function expectValid(rows: ReadonlyArray<z.infer<typeof outboxRow>>) {
  for (const row of rows) {
    expect(row.payload.eventId).toBe(row.id);
    expect(row.type === 'OrderConfirmed' ? orderConfirmedErrors(row.payload) : orderRefundedErrors(row.payload)).toEqual([]);
  }
}

describe('a refund before the payment is confirmed', () => {
  it('in full: the order ends REFUNDED with no OrderConfirmed and no OrderRefunded', async () => {
    const o = await pendingOrder();
    expect(await apply('charge.refunded', o.charge(1198))).toMatchObject({ outcome: 'applied', anomaly: null });
    expect(await order(o.orderId)).toMatchObject({ status: 'PENDING_PAYMENT', amount_refunded: 1198, charge_id: o.chargeId });
    expect(await apply('payment_intent.succeeded', o.succeeded())).toMatchObject({ outcome: 'applied' });
    expect(await order(o.orderId)).toMatchObject({ status: 'REFUNDED', confirmed_event_id: null });
    expect(await lastReason(o.orderId)).toBe('payment refunded in full before confirmation');
    expect(await outbox(o.orderId)).toEqual([]);
    // The same payment seen again (reconciliation, a redelivery under another id) changes nothing.
    expect(await apply('payment_intent.succeeded', o.succeeded(), 'reconciliation')).toMatchObject({ outcome: 'ignored' });
    expect(await outbox(o.orderId)).toEqual([]);
  });

  it('partly: OrderConfirmed, then OrderRefunded for the recorded amount, in the confirming transaction', async () => {
    const o = await pendingOrder();
    await apply('charge.refunded', o.charge(500));
    await apply('payment_intent.succeeded', o.succeeded());
    const now = await order(o.orderId);
    expect(now).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_refunded: 500 });
    expect(await lastReason(o.orderId)).toBe('payment succeeded, partly refunded before confirmation');
    const rows = await outbox(o.orderId);
    expect(rows.map((r) => r.type)).toEqual(['OrderConfirmed', 'OrderRefunded']);
    expectValid(rows);
    expect(rows[0]!.id).toBe(now.confirmed_event_id);
    expect(rows[1]!.payload).toEqual({
      eventId: rows[1]!.id, eventType: 'OrderRefunded', schemaVersion: 1, occurredAt: expect.any(String),
      orderId: o.orderId, confirmedEventId: rows[0]!.id, currency: 'nzd',
      amountRefunded: 500, amountRefundedTotal: 500, refundedInFull: false,
      payment: { provider: 'stripe', paymentIntentId: o.pi, chargeId: o.chargeId },
    });
    const txids = await db.admin.anyFirst(sql.type(z.object({ txid: z.string() }))`
      select txid::text from checkout.outbox where aggregateid = ${o.orderId}`);
    expect(new Set(txids).size).toBe(1);
  });

  it('partly, then more before the confirmation: one OrderRefunded with the cumulative amount', async () => {
    const o = await pendingOrder();
    await apply('charge.refunded', o.charge(300));
    await apply('charge.refunded', o.charge(700));
    await apply('payment_intent.succeeded', o.succeeded());
    const rows = await outbox(o.orderId);
    expect(rows.map((r) => [r.type, r.payload.amountRefunded ?? null])).toEqual([['OrderConfirmed', null], ['OrderRefunded', 700]]);
  });

  it('seen only by reconciliation (latest_charge expanded): the same result as the webhooks', async () => {
    const partial = await pendingOrder();
    expect(await apply('payment_intent.succeeded', partial.succeeded(partial.charge(400)), 'reconciliation'))
      .toMatchObject({ outcome: 'applied' });
    const rows = await outbox(partial.orderId);
    expect(rows.map((r) => [r.type, r.payload.amountRefunded ?? null])).toEqual([['OrderConfirmed', null], ['OrderRefunded', 400]]);
    expectValid(rows);

    const full = await pendingOrder();
    await apply('payment_intent.succeeded', full.succeeded(full.charge(1198)), 'reconciliation');
    expect(await order(full.orderId)).toMatchObject({ status: 'REFUNDED', amount_refunded: 1198, charge_id: full.chargeId });
    expect(await outbox(full.orderId)).toEqual([]);
    // The refund's own webhook, delivered late, changes nothing.
    expect(await apply('charge.refunded', full.charge(1198))).toMatchObject({ outcome: 'ignored' });
    expect(await outbox(full.orderId)).toEqual([]);
  });
});

describe('a refund after the confirmation', () => {
  it('partly, then the rest: one OrderRefunded each, the second in full and REFUNDED', async () => {
    const o = await pendingOrder();
    await apply('payment_intent.succeeded', o.succeeded());
    await apply('charge.refunded', o.charge(500));
    expect(await order(o.orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_refunded: 500 });
    await apply('charge.refunded', o.charge(1198));
    expect(await order(o.orderId)).toMatchObject({ status: 'REFUNDED', amount_refunded: 1198 });
    const rows = await outbox(o.orderId);
    expectValid(rows);
    expect(rows.map((r) => [r.type, r.payload.amountRefunded ?? null, r.payload.amountRefundedTotal ?? null, r.payload.refundedInFull ?? null]))
      .toEqual([['OrderConfirmed', null, null, null], ['OrderRefunded', 500, 500, false], ['OrderRefunded', 698, 1198, true]]);
    expect(rows.slice(1).map((r) => r.payload.confirmedEventId)).toEqual([rows[0]!.id, rows[0]!.id]);
  });

  it('a repeated or older charge.refunded (lower cumulative amount) writes nothing', async () => {
    const o = await pendingOrder();
    await apply('payment_intent.succeeded', o.succeeded());
    await apply('charge.refunded', o.charge(600));
    expect(await apply('charge.refunded', o.charge(600))).toMatchObject({ outcome: 'ignored' });
    expect(await apply('charge.refunded', o.charge(200))).toMatchObject({ outcome: 'ignored' });
    expect((await outbox(o.orderId)).map((r) => r.type)).toEqual(['OrderConfirmed', 'OrderRefunded']);
  });
});

describe('a failed refund (charge.refund.updated)', () => {
  it.each(['failed', 'canceled'])('status %s: an anomaly for a person, no transition, no event', async (status) => {
    const o = await pendingOrder();
    await apply('payment_intent.succeeded', o.succeeded());
    await apply('charge.refunded', o.charge(1198));
    const failed = await apply('charge.refund.updated', o.refundUpdated(status));
    expect(failed).toMatchObject({ outcome: 'anomaly', anomaly: 'refund_failed', orderId: o.orderId });
    expect(await statusOf(db.admin, o.orderId)).toBe('REFUNDED');
    expect((await outbox(o.orderId)).map((r) => r.type)).toEqual(['OrderConfirmed', 'OrderRefunded']);
    const anomaly = await db.admin.one(sql.unsafe`
      select kind, detail->>'refundStatus' as status, detail->>'chargeId' as charge from checkout.open_payment_anomalies where order_id = ${o.orderId}`);
    expect(anomaly).toEqual({ kind: 'refund_failed', status, charge: o.chargeId });
  });

  it('other statuses are ignored', async () => {
    const o = await pendingOrder();
    expect(await apply('charge.refund.updated', o.refundUpdated('succeeded'))).toMatchObject({ outcome: 'ignored', anomaly: null });
    expect(await apply('charge.refund.updated', o.refundUpdated('pending'))).toMatchObject({ outcome: 'ignored', anomaly: null });
  });

  it('before the payment is confirmed: recorded for a person, and the confirmation announces no refund', async () => {
    const o = await pendingOrder();
    await apply('charge.refunded', o.charge(1198));
    expect(await apply('charge.refund.updated', o.refundUpdated('failed'))).toMatchObject({ outcome: 'anomaly', anomaly: 'refund_failed' });
    expect(await order(o.orderId)).toMatchObject({ status: 'PENDING_PAYMENT', amount_refunded: 0 });
    await apply('payment_intent.succeeded', o.succeeded());
    expect(await order(o.orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_refunded: 0 });
    expect((await outbox(o.orderId)).map((r) => r.type)).toEqual(['OrderConfirmed']);
  });
});
