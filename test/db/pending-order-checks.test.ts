// Issue 9 item 4 in SQL: the jobs take bounded batches, least recently looked at first, and orders
// with an open anomaly or failing at Stripe back off exponentially (record_order_check).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createOrder, idleFor, paymentIntentIdFor, seedCatalog } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const checkResult = z.object({ r: z.object({ outcome: z.string(), failures: z.number(), nextCheckAt: z.string() }) });
const record = (orderId: string, stripeFailed: boolean) =>
  db.app.oneFirst(sql.type(checkResult)`select checkout.record_order_check(${orderId}, ${stripeFailed}) as r`);
/** Minutes from the last check to the next one. */
const pauseMinutes = (orderId: string) =>
  db.admin.oneFirst(sql.type(z.object({ m: z.number() }))`
    select extract(epoch from next_check_at - last_checked_at)::float8 / 60 as m from checkout.pending_order_checks where order_id = ${orderId}`);
const dueForExpiry = (limit = 1000) =>
  db.app.anyFirst(sql.type(z.object({ id: z.string() }))`select order_id as id from checkout.orders_due_for_check('1 hour', ${limit}, false)`);
const dueForReconciliation = (limit = 1000) =>
  db.app.anyFirst(sql.type(z.object({ id: z.string() }))`select order_id as id from checkout.orders_due_for_check('1 hour', ${limit}, true)`);

/** A pending order with a PaymentIntent, its last checkout activity `idleMinutes` ago. */
async function idleOrder(idleMinutes = 120, withPaymentIntent = true): Promise<string> {
  const { orderId, checkoutToken } = await createOrder(db.app);
  if (withPaymentIntent) {
    await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${checkoutToken})`);
  }
  await idleFor(db.admin, orderId, idleMinutes);
  return orderId;
}

/** As if the pause were over. */
const pauseOver = (orderId: string) =>
  db.admin.query(sql.unsafe`update checkout.pending_order_checks set next_check_at = now() - interval '1 second' where order_id = ${orderId}`);

describe('record_order_check', () => {
  it('Stripe failing again and again: the pause doubles from 1 minute and stops at 6 hours', async () => {
    const orderId = await idleOrder();
    const pauses: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(await record(orderId, true)).toMatchObject({ outcome: 'stripe_failed', failures: i + 1 });
      pauses.push(await pauseMinutes(orderId));
    }
    expect(pauses).toEqual([1, 2, 4, 8]);
    await db.admin.query(sql.unsafe`update checkout.pending_order_checks set failures = 5000 where order_id = ${orderId}`);
    expect(await record(orderId, true)).toMatchObject({ failures: 5001 });
    expect(await pauseMinutes(orderId)).toBe(6 * 60);
  });

  it('a check that went well ends the back-off: due again at once', async () => {
    const orderId = await idleOrder();
    await record(orderId, true);
    await record(orderId, true);
    expect(await record(orderId, false)).toMatchObject({ outcome: 'ok', failures: 0 });
    expect(await pauseMinutes(orderId)).toBe(0);
    expect(await dueForReconciliation()).toContain(orderId);
  });

  it('an open payment anomaly backs the order off until a person resolves it', async () => {
    const orderId = await idleOrder();
    const pi = paymentIntentIdFor(orderId);
    // Paid 1 cent short: apply_stripe_event records an amount_mismatch anomaly, the order stays pending.
    await db.app.query(sql.unsafe`select checkout.apply_stripe_event(${`evt_${randomUUID()}`}, 'payment_intent.succeeded',
      ${sql.jsonb({ id: pi, object: 'payment_intent', status: 'succeeded', amount: 1197, amount_received: 1197, currency: 'nzd', metadata: { order_id: orderId } })})`);
    expect(await record(orderId, false)).toMatchObject({ outcome: 'open_anomaly', failures: 1 });
    expect(await record(orderId, false)).toMatchObject({ outcome: 'open_anomaly', failures: 2 });
    expect(await pauseMinutes(orderId)).toBe(2);

    await db.admin.query(sql.unsafe`update checkout.payment_anomalies set resolved_at = now() where order_id = ${orderId}`);
    expect(await record(orderId, false)).toMatchObject({ outcome: 'ok', failures: 0 });
  });
});

describe('the orders due', () => {
  it('leave out an order while it is backed off, and take it again once the pause is over', async () => {
    const orderId = await idleOrder();
    await record(orderId, true);
    expect(await dueForReconciliation()).not.toContain(orderId);
    expect(await dueForExpiry()).not.toContain(orderId);
    await pauseOver(orderId);
    expect(await dueForReconciliation()).toContain(orderId);
    expect(await dueForExpiry()).toContain(orderId);
  });

  it('for reconciliation: only orders with a PaymentIntent', async () => {
    const without = await idleOrder(120, false);
    expect(await dueForExpiry()).toContain(without);
    expect(await dueForReconciliation()).not.toContain(without);
  });

  it('are at most the batch, the least recently looked at first', async () => {
    // Idle far longer than any other order of this file, so that they are the first three.
    const oldest = await idleOrder(30 * 1440);
    const middle = await idleOrder(20 * 1440);
    const newest = await idleOrder(10 * 1440);
    expect(await dueForReconciliation(2)).toEqual([oldest, middle]);
    expect(await dueForExpiry(2)).toEqual([oldest, middle]);
    // Looked at now (nothing to do): behind every order looked at less recently.
    await record(oldest, false);
    expect(await dueForReconciliation(3)).toEqual([middle, newest, expect.any(String)]);
    expect((await dueForReconciliation(1000)).at(-1)).toBe(oldest);
  });
});
