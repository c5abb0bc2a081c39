// CONTRACT.md "POST /checkout": prices only from the catalog; the Idempotency-Key replays, resumes
// or refuses; every refusal writes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expireOrderAsJob, paymentIntentIdFor, seedCatalog, sqlstateOf } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  await db.admin.query(sql.unsafe`
    insert into checkout.products (sku, name, unit_amount, currency, active) values
      ('OLD-STOCK', 'Discontinued', 100, 'nzd', false),
      ('AUD-ONLY', 'Sold in AUD', 100, 'aud', true),
      ('MAX-ITEM', 'The most Stripe takes', 99999999, 'nzd', true)`);
});
afterAll(async () => db?.drop());

type Item = { sku: string; quantity: unknown };
const result = z.object({ outcome: z.string(), order: z.record(z.string(), z.unknown()), checkoutToken: z.string().optional() });

const create = (key: string, items: unknown, options: { customer?: string; lease?: string } = {}) =>
  db.app.oneFirst(sql.type(z.object({ r: result }))`
    select checkout.create_order(${key}, ${options.customer ?? 'c-123'}, 'nzd', ${sql.jsonb(items as Item[])},
                                 ${options.lease ?? '30 seconds'}::interval) as r`);

const ordersWithKey = (key: string) =>
  db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.orders where idempotency_key = ${key}`);
const totals = () =>
  db.admin.one(sql.unsafe`select (select count(*) from checkout.orders)::int as orders,
                                 (select count(*) from checkout.order_lines)::int as lines,
                                 (select count(*) from checkout.order_status_history)::int as history`);

describe('pricing', () => {
  it('comes from the catalog only: lines and total', async () => {
    const key = randomUUID();
    // Amounts or names in the request are not the catalog's and must be ignored.
    const r = await create(key, [{ sku: 'MILK-2L', quantity: 2, unitAmount: 1, name: 'free' }, { sku: 'EGGS-12', quantity: 3 }]);
    expect(r.outcome).toBe('created');
    const lines = [
      { sku: 'EGGS-12', name: 'Free range eggs, dozen', quantity: 3, unitAmount: 899, lineTotal: 2697 },
      { sku: 'MILK-2L', name: 'Fresh milk 2L', quantity: 2, unitAmount: 599, lineTotal: 1198 },
    ];
    // What POST /checkout shows, and nothing more (migrations/0040: no history or Stripe events).
    expect(r.order).toEqual({ orderId: expect.any(String), status: 'PENDING_PAYMENT', currency: 'nzd', amountTotal: 1198 + 2697, paymentIntentId: null, lines });
    const full = await db.app.oneFirst(sql.type(z.object({ o: z.record(z.string(), z.unknown()) }))`select checkout.order_json(${r.order.orderId as string}) as o`);
    expect(full).toMatchObject({
      customerId: 'c-123', lines,
      history: [{ from: null, to: 'PENDING_PAYMENT', source: 'checkout_api', reason: 'order created' }],
    });
  });

  it('accepts exactly 99999999, the largest payable total', async () => {
    expect((await create(randomUUID(), [{ sku: 'MAX-ITEM', quantity: 1 }])).order.amountTotal).toBe(99999999);
  });
});

describe('the Idempotency-Key', () => {
  const basket = [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'BREAD-WHOLEMEAL', quantity: 1 }];
  const reordered = [...basket].reverse();

  it('while the first request holds its lease and no PaymentIntent is attached: CK003', async () => {
    const key = randomUUID();
    await create(key, basket);
    expect(await sqlstateOf(create(key, reordered))).toBe('CK003');
    expect(await ordersWithKey(key)).toBe(1);
  });

  it('after a PaymentIntent is attached, the same body (items in another order) is replayed', async () => {
    const key = randomUUID();
    const first = await create(key, basket);
    const orderId = first.order.orderId as string;
    await db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${first.checkoutToken!})`);
    const again = await create(key, reordered);
    expect(again.outcome).toBe('replayed');
    expect(again.order).toMatchObject({ orderId, paymentIntentId: paymentIntentIdFor(orderId), amountTotal: 1627 });
    expect(await ordersWithKey(key)).toBe(1);
  });

  it('after the lease has passed, the retry resumes the same order', async () => {
    const key = randomUUID();
    const first = await create(key, basket, { lease: '0 seconds' });
    const again = await create(key, reordered);
    expect(again).toMatchObject({ outcome: 'resumed', order: { orderId: first.order.orderId, status: 'PENDING_PAYMENT' } });
    expect(again.checkoutToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(again.checkoutToken).not.toBe(first.checkoutToken);
    // The resuming request now holds the lease itself.
    expect(await sqlstateOf(create(key, basket))).toBe('CK003');
    expect(await ordersWithKey(key)).toBe(1);
  });

  it('after release_checkout_lease, the retry resumes at once', async () => {
    const key = randomUUID();
    const first = await create(key, basket);
    await db.app.query(sql.unsafe`select checkout.release_checkout_lease(${first.order.orderId as string}, ${first.checkoutToken!})`);
    expect((await create(key, basket)).outcome).toBe('resumed');
  });

  it.each([
    ['another basket', [{ sku: 'MILK-2L', quantity: 3 }], 'c-123'],
    ['another customer', [{ sku: 'MILK-2L', quantity: 2 }], 'c-999'],
  ])('with %s: CK002, nothing written', async (_name, items, customer) => {
    const key = randomUUID();
    await create(key, [{ sku: 'MILK-2L', quantity: 2 }]);
    const before = await totals();
    expect(await sqlstateOf(create(key, items, { customer }))).toBe('CK002');
    expect(await totals()).toEqual(before);
  });

  it('an expired order without a PaymentIntent is not resumed: outcome closed, every time', async () => {
    const key = randomUUID();
    const first = await create(key, basket, { lease: '0 seconds' });
    await db.app.query(expireOrderAsJob(first.order.orderId as string));
    for (let i = 0; i < 2; i++) {
      const again = await create(key, basket);
      expect(again).toMatchObject({ outcome: 'closed', order: { orderId: first.order.orderId, status: 'EXPIRED' } });
      expect(again.checkoutToken).toBeUndefined();
    }
  });
});

describe('attach_payment_intent', () => {
  it('is idempotent for the same PaymentIntent and refuses another: CK009', async () => {
    const { order, checkoutToken } = await create(randomUUID(), [{ sku: 'MILK-2L', quantity: 1 }]);
    const orderId = order.orderId as string;
    const pi = paymentIntentIdFor(orderId);
    const attach = (paymentIntentId: string) =>
      db.app.query(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${paymentIntentId}, ${checkoutToken!})`);
    const attached = await db.app.oneFirst(sql.type(z.object({ r: result.omit({ checkoutToken: true }) }))`
      select checkout.attach_payment_intent(${orderId}, ${pi}, ${checkoutToken!}) as r`);
    expect(attached).toEqual({ outcome: 'attached', order: { orderId, status: 'PENDING_PAYMENT', currency: 'nzd', amountTotal: 599, paymentIntentId: pi, lines: [expect.objectContaining({ sku: 'MILK-2L', quantity: 1 })] } });
    await attach(pi);
    expect(await sqlstateOf(attach('pi_other'))).toBe('CK009');
    const stored = await db.admin.oneFirst(sql.unsafe`select payment_intent_id from checkout.orders where id = ${orderId}`);
    expect(stored).toBe(pi);
  });

  it('for an unknown order: CK005', async () => {
    expect(await sqlstateOf(db.app.query(sql.unsafe`select checkout.attach_payment_intent(${randomUUID()}, 'pi_x', ${randomUUID()})`))).toBe('CK005');
  });
});

describe('refusals write nothing', () => {
  it.each([
    ['an unknown SKU', [{ sku: 'NOPE-1', quantity: 1 }, { sku: 'MILK-2L', quantity: 1 }], 'NOPE-1'],
    ['an inactive SKU', [{ sku: 'OLD-STOCK', quantity: 1 }], 'OLD-STOCK'],
    ['a SKU priced in another currency', [{ sku: 'AUD-ONLY', quantity: 1 }], 'AUD-ONLY'],
    ['two bad SKUs', [{ sku: 'ZZZ-1', quantity: 1 }, { sku: 'AAA-1', quantity: 1 }], 'AAA-1, ZZZ-1'],
  ])('%s: CK004 naming the SKUs', async (_name, items, skus) => {
    const before = await totals();
    const error = await create(randomUUID(), items).then(() => null, (e: { code?: string; message: string }) => e);
    expect(error?.code).toBe('CK004');
    expect(error?.message).toContain(skus);
    expect(await totals()).toEqual(before);
  });

  const many = Array.from({ length: 101 }, (_, i) => ({ sku: `SKU-${i}`, quantity: 1 }));
  it.each([
    ['no items', []],
    ['not an array', { sku: 'MILK-2L', quantity: 1 }],
    ['a duplicate SKU', [{ sku: 'MILK-2L', quantity: 1 }, { sku: 'MILK-2L', quantity: 2 }]],
    ['quantity 0', [{ sku: 'MILK-2L', quantity: 0 }]],
    ['quantity 1000', [{ sku: 'MILK-2L', quantity: 1000 }]],
    ['quantity 1.5', [{ sku: 'MILK-2L', quantity: 1.5 }]],
    ['quantity as a string', [{ sku: 'MILK-2L', quantity: '2' }]],
    ['no sku', [{ quantity: 2 }]],
    ['101 items', many],
  ])('%s: CK007', async (_name, items) => {
    const before = await totals();
    expect(await sqlstateOf(create(randomUUID(), items))).toBe('CK007');
    expect(await totals()).toEqual(before);
  });
});
