// Issue 9 items 5 and 6 in SQL: the checkout lease has an owner (the token create_order hands out),
// and the key of an order answers by the order's status.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { applyEvent, eventTo, expireOrderAsJob, paymentIntentIdFor, seedCatalog, sqlstateOf, statusOf, type Status } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const basket = [{ sku: 'MILK-2L', quantity: 2 }];
const createdSchema = z.object({
  outcome: z.string(), checkoutToken: z.string().optional(),
  order: z.object({ orderId: z.string(), status: z.string(), paymentIntentId: z.string().nullable() }).passthrough(),
});
const create = (key: string, lease = '30 seconds') =>
  db.app.oneFirst(sql.type(z.object({ r: createdSchema }))`
    select checkout.create_order(${key}, 'c-123', 'nzd', ${sql.jsonb(basket)}, ${lease}::interval) as r`);
const attach = (orderId: string, paymentIntentId: string, token: string) =>
  db.app.oneFirst(sql.type(z.object({ r: z.object({ outcome: z.string(), order: z.object({ paymentIntentId: z.string().nullable() }).passthrough() }) }))`
    select checkout.attach_payment_intent(${orderId}, ${paymentIntentId}, ${token}) as r`);
const release = (orderId: string, token: string) =>
  db.app.oneFirst(sql.type(z.object({ r: z.boolean() }))`select checkout.release_checkout_lease(${orderId}, ${token}) as r`);
const lastCheckoutAt = (orderId: string) =>
  db.admin.oneFirst(sql.type(z.object({ t: z.string() }))`select last_checkout_at::text as t from checkout.orders where id = ${orderId}`);

describe('the checkout lease and its token', () => {
  it('a request whose lease ran out and was taken over can neither attach (CK014) nor release the new holder\'s lease', async () => {
    const key = randomUUID();
    const a = await create(key, '0 seconds');
    const orderId = a.order.orderId;
    const b = await create(key);
    expect(b).toMatchObject({ outcome: 'resumed', order: { orderId } });

    expect(await sqlstateOf(attach(orderId, paymentIntentIdFor(orderId), a.checkoutToken!))).toBe('CK014');
    expect(await release(orderId, a.checkoutToken!)).toBe(false);
    // B still holds the order: a third request is told to wait.
    expect(await sqlstateOf(create(key))).toBe('CK003');
    expect((await db.admin.oneFirst(sql.unsafe`select payment_intent_id from checkout.orders where id = ${orderId}`))).toBeNull();

    expect(await attach(orderId, paymentIntentIdFor(orderId), b.checkoutToken!)).toMatchObject({ outcome: 'attached', order: { paymentIntentId: paymentIntentIdFor(orderId) } });
    // A's late attach of the same PaymentIntent (one Stripe idempotency key per order) changes nothing.
    expect(await attach(orderId, paymentIntentIdFor(orderId), a.checkoutToken!)).toMatchObject({ outcome: 'attached' });
  });

  it('the holder releases its lease, and a retry resumes at once; a second release does nothing', async () => {
    const key = randomUUID();
    const first = await create(key);
    expect(await release(first.order.orderId, first.checkoutToken!)).toBe(true);
    expect(await release(first.order.orderId, first.checkoutToken!)).toBe(false);
    expect((await create(key)).outcome).toBe('resumed');
  });

  it('attaching to an order that was closed meanwhile records nothing: outcome closed', async () => {
    const key = randomUUID();
    const first = await create(key, '0 seconds');
    await db.app.query(expireOrderAsJob(first.order.orderId));
    expect(await attach(first.order.orderId, paymentIntentIdFor(first.order.orderId), first.checkoutToken!))
      .toMatchObject({ outcome: 'closed', order: { status: 'EXPIRED', paymentIntentId: null } });
  });

  it('attaching counts as checkout activity (the expiry age starts again)', async () => {
    const first = await create(randomUUID());
    const before = await lastCheckoutAt(first.order.orderId);
    await attach(first.order.orderId, paymentIntentIdFor(first.order.orderId), first.checkoutToken!);
    expect(await lastCheckoutAt(first.order.orderId) > before).toBe(true);
  });
});

describe('the key of an order answers by the order\'s status (one rule for replays)', () => {
  /** An order under `key` with a PaymentIntent attached, moved to `status` through the API functions. */
  async function orderWithKey(key: string, status: Status): Promise<string> {
    const first = await create(key);
    const orderId = first.order.orderId;
    const pi = paymentIntentIdFor(orderId);
    await attach(orderId, pi, first.checkoutToken!);
    // As the service moves it: Stripe events through apply_stripe_event, the expiry job's functions.
    const steps = { PENDING_PAYMENT: [], PAYMENT_CONFIRMED: ['PAYMENT_CONFIRMED'], CANCELLED: ['CANCELLED'], EXPIRED: [],
      REFUNDED: ['PAYMENT_CONFIRMED', 'REFUNDED'] } as const satisfies Record<Status, ReadonlyArray<'PAYMENT_CONFIRMED' | 'CANCELLED' | 'REFUNDED'>>;
    for (const step of steps[status]) {
      const { type, object } = eventTo(step, orderId);
      await applyEvent(db.app, type, object);
    }
    if (status === 'EXPIRED') await db.app.query(expireOrderAsJob(orderId));
    expect(await statusOf(db.admin, orderId)).toBe(status);
    return orderId;
  }

  it.each(['CANCELLED', 'EXPIRED', 'REFUNDED'] as const)('%s: outcome closed with the order, the same every time, nothing written', async (status) => {
    const key = randomUUID();
    const orderId = await orderWithKey(key, status);
    const before = await db.admin.one(sql.unsafe`select updated_at::text, last_checkout_at::text from checkout.orders where id = ${orderId}`);
    for (let i = 0; i < 2; i++) {
      const again = await create(key);
      expect(again).toMatchObject({ outcome: 'closed', order: { orderId, status } });
      expect(again.checkoutToken).toBeUndefined();
    }
    expect(await db.admin.one(sql.unsafe`select updated_at::text, last_checkout_at::text from checkout.orders where id = ${orderId}`)).toEqual(before);
  });

  it('PAYMENT_CONFIRMED: outcome replayed with the order', async () => {
    const key = randomUUID();
    const orderId = await orderWithKey(key, 'PAYMENT_CONFIRMED');
    expect(await create(key)).toMatchObject({ outcome: 'replayed', order: { orderId, status: 'PAYMENT_CONFIRMED' } });
  });

  it('PENDING_PAYMENT with a PaymentIntent: outcome replayed, and the customer\'s return counts as checkout activity', async () => {
    const key = randomUUID();
    const orderId = await orderWithKey(key, 'PENDING_PAYMENT');
    const before = await lastCheckoutAt(orderId);
    expect(await create(key)).toMatchObject({ outcome: 'replayed', order: { orderId, status: 'PENDING_PAYMENT' } });
    expect(await lastCheckoutAt(orderId) > before).toBe(true);
  });
});
