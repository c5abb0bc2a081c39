// Issue 9 item 3 in SQL: the expiry job lists idle orders, claims each (its checkout lease), cancels
// at Stripe, then expires; a customer resuming or replaying the checkout at any step wins or waits.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { applyEvent, eventTo, idleFor, paymentIntentIdFor, seedCatalog, sqlstateOf, statusOf } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const basket = [{ sku: 'MILK-2L', quantity: 2 }];
const created = z.object({ r: z.object({ outcome: z.string(), checkoutToken: z.string().optional(), order: z.object({ orderId: z.string() }).passthrough() }) });
const checkout = (key: string, lease = '30 seconds') =>
  db.app.oneFirst(sql.type(created)`select checkout.create_order(${key}, 'c-123', 'nzd', ${sql.jsonb(basket)}, ${lease}::interval) as r`);
const attach = (orderId: string, token: string) =>
  db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${token})`);
const due = (idle = '1 hour') =>
  db.app.anyFirst(sql.type(z.object({ id: z.string() }))`select order_id as id from checkout.orders_due_for_check(${idle}::interval, 1000, false)`);
const claim = (orderId: string, paymentIntentId: string | null, lease = '1 minute') =>
  db.app.oneFirst(sql.type(z.object({ c: z.object({ outcome: z.string(), checkoutToken: z.string().optional(), status: z.string().optional() }) }))`
    select checkout.claim_order_for_expiry(${orderId}, ${paymentIntentId}, interval '1 hour', ${lease}::interval) as c`);
const expire = (orderId: string, paymentIntentId: string | null, token: string) =>
  db.app.oneFirst(sql.unsafe`select checkout.expire_order(${orderId}, ${paymentIntentId}, ${token}) as r`);
const idleFor2Hours = (orderId: string) => idleFor(db.admin, orderId, 120);

/** An idle order under `key`, with a PaymentIntent attached unless `withPaymentIntent` is false. */
async function idleOrder(key: string, withPaymentIntent: boolean): Promise<string> {
  const first = await checkout(key, '0 seconds');
  if (withPaymentIntent) await attach(first.order.orderId, first.checkoutToken!);
  await idleFor2Hours(first.order.orderId);
  return first.order.orderId;
}

describe('a customer resumes between the listing and the claim', () => {
  it('no PaymentIntent yet: the resumed checkout attaches one; the claim says resumed and expire_order refuses (CK013)', async () => {
    const key = randomUUID();
    const orderId = await idleOrder(key, false);
    expect(await due()).toContain(orderId);

    const resumed = await checkout(key);
    expect(resumed.outcome).toBe('resumed');
    await attach(orderId, resumed.checkoutToken!);

    expect(await claim(orderId, null)).toEqual({ outcome: 'resumed' });
    expect(await sqlstateOf(expire(orderId, null, randomUUID()))).toBe('CK013');
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await due()).not.toContain(orderId);
  });

  it('PaymentIntent attached: the replay returns it and starts the age again; the claim says resumed', async () => {
    const key = randomUUID();
    const orderId = await idleOrder(key, true);
    expect(await due()).toContain(orderId);
    expect((await checkout(key)).outcome).toBe('replayed');
    expect(await claim(orderId, paymentIntentIdFor(orderId))).toEqual({ outcome: 'resumed' });
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
  });
});

describe('a customer comes back while the job holds the order (between its cancel and its expire)', () => {
  it.each([
    ['with a PaymentIntent', true],
    ['without a PaymentIntent', false],
  ])('%s: every request under the key waits (CK003), then finds the order closed', async (_name, withPaymentIntent) => {
    const key = randomUUID();
    const orderId = await idleOrder(key, withPaymentIntent);
    const pi = withPaymentIntent ? paymentIntentIdFor(orderId) : null;
    const held = await claim(orderId, pi);
    expect(held).toEqual({ outcome: 'claimed', checkoutToken: expect.any(String) });

    expect(await sqlstateOf(checkout(key))).toBe('CK003');
    expect(await expire(orderId, pi, held.checkoutToken!)).toBe('applied');
    expect((await checkout(key)).outcome).toBe('closed');
  });

  it('a claim that ran out and was taken over by a resumed checkout: expire_order refuses (CK013), the order stays the customer\'s', async () => {
    const key = randomUUID();
    const orderId = await idleOrder(key, false);
    const held = await claim(orderId, null, '0 seconds');
    const resumed = await checkout(key);
    expect(resumed.outcome).toBe('resumed');
    expect(await sqlstateOf(expire(orderId, null, held.checkoutToken!))).toBe('CK013');
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
  });

  it('expire_order with another PaymentIntent than the order\'s: CK013', async () => {
    const orderId = await idleOrder(randomUUID(), true);
    const held = await claim(orderId, paymentIntentIdFor(orderId));
    expect(await sqlstateOf(expire(orderId, 'pi_someotherone', held.checkoutToken!))).toBe('CK013');
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
  });
});

describe('orders that changed otherwise', () => {
  it('the claim of a PaymentIntent other than the one listed says resumed', async () => {
    const orderId = await idleOrder(randomUUID(), true);
    expect(await claim(orderId, null)).toEqual({ outcome: 'resumed' });
  });

  it('a closed order: the claim says closed, with its status', async () => {
    const orderId = await idleOrder(randomUUID(), true);
    const { type, object } = eventTo('CANCELLED', orderId);
    await applyEvent(db.app, type, object);
    expect(await claim(orderId, paymentIntentIdFor(orderId))).toEqual({ outcome: 'closed', status: 'CANCELLED' });
  });

  it('expired by the webhook of the job\'s own cancel before expire_order: ignored', async () => {
    const orderId = await idleOrder(randomUUID(), true);
    const pi = paymentIntentIdFor(orderId);
    const held = await claim(orderId, pi);
    await db.app.query(sql.unsafe`select checkout.apply_stripe_event(${`evt_${randomUUID()}`}, 'payment_intent.canceled',
      ${sql.jsonb({ id: pi, object: 'payment_intent', status: 'canceled', cancellation_reason: 'abandoned', metadata: { order_id: orderId } })})`);
    expect(await statusOf(db.admin, orderId)).toBe('EXPIRED');
    expect(await expire(orderId, pi, held.checkoutToken!)).toBe('ignored');
  });
});

describe('the age of an order', () => {
  it('counts from its last checkout activity, not from its creation', async () => {
    const key = randomUUID();
    const first = await checkout(key, '0 seconds');
    const orderId = first.order.orderId;
    await db.admin.query(sql.unsafe`
      update checkout.orders set created_at = now() - interval '3 hours', last_checkout_at = now() - interval '2 hours' where id = ${orderId}`);
    expect(await due()).toContain(orderId);
    // The customer resumes now: created three hours ago, idle for no time.
    const resumed = await checkout(key);
    await attach(orderId, resumed.checkoutToken!);
    expect(await due()).not.toContain(orderId);
    expect(await due('0 seconds')).toContain(orderId);
  });

  it('an order held by a checkout request is not listed', async () => {
    const first = await checkout(randomUUID(), '1 hour');
    await idleFor2Hours(first.order.orderId);
    expect(await due()).not.toContain(first.order.orderId);
  });
});
