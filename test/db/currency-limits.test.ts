// Issue 9 item 2: a basket Stripe would refuse (amount_too_small / amount_too_large) is refused
// before its order exists, against limits kept as data (checkout.currency_limits).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedCatalog } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  await db.admin.query(sql.unsafe`
    insert into checkout.products (sku, name, unit_amount, currency) values
      ('LOLLY', 'A lolly', 10, 'nzd'),
      ('GOLD-BAR', 'Gold bar', 50000000, 'nzd'),
      ('GBP-GUM', 'Gum', 10, 'gbp')`);
});
afterAll(async () => db?.drop());

const create = (items: Array<{ sku: string; quantity: number }>, currency = 'nzd') =>
  db.app.oneFirst(sql.type(z.object({ r: z.object({ outcome: z.string(), order: z.object({ amountTotal: z.number() }) }) }))`
    select checkout.create_order(${randomUUID()}, 'c-123', ${currency}, ${sql.jsonb(items)}, interval '0 seconds') as r`);

const refusal = (items: Array<{ sku: string; quantity: number }>, currency = 'nzd') =>
  create(items, currency).then(
    () => { throw new Error('expected a refusal'); },
    (error: { code?: string; message: string; detail?: string }) => error,
  );

const totals = () =>
  db.admin.one(sql.unsafe`select (select count(*) from checkout.orders)::int as orders,
                                 (select count(*) from checkout.order_lines)::int as lines,
                                 (select count(*) from checkout.order_status_history)::int as history`);

describe('checkout.currency_limits', () => {
  it('has Stripe\'s limits for NZD: 50 (NZD 0.50) to 99999999', async () => {
    expect(await db.admin.one(sql.unsafe`
      select minimum_amount::int, maximum_amount::int from checkout.currency_limits where currency = 'nzd'`))
      .toEqual({ minimum_amount: 50, maximum_amount: 99999999 });
  });

  it('has a row for every currency the catalog sells, and refuses a product in a currency without one', async () => {
    expect(await db.admin.anyFirst(sql.unsafe`
      select distinct p.currency from checkout.products p
       where not exists (select 1 from checkout.currency_limits l where l.currency = p.currency)`)).toEqual([]);
    // Through pg itself: the slonik pool rejects this with a wrapper (ERR_UNHANDLED_ERROR) that hides the SQLSTATE.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await expect(client.query(`insert into checkout.products (sku, name, unit_amount, currency) values ('XYZ-ONLY', 'x', 100, 'xyz')`))
        .rejects.toMatchObject({ code: '23503', constraint: 'products_currency_limits_fk' });
    } finally {
      await client.end();
    }
  });
});

describe('create_order', () => {
  it('accepts a total of exactly the minimum', async () => {
    expect((await create([{ sku: 'LOLLY', quantity: 5 }])).order.amountTotal).toBe(50);
  });

  it('refuses a total below the minimum with CK011 naming the limit, and writes nothing', async () => {
    const before = await totals();
    const error = await refusal([{ sku: 'LOLLY', quantity: 4 }]);
    expect(error).toMatchObject({ code: 'CK011', detail: '50' });
    expect(error.message).toBe('order total 40 nzd is below the minimum charge of 50 nzd (Stripe amount_too_small)');
    expect(await totals()).toEqual(before);
  });

  it('refuses a total above the maximum with CK012 naming the limit, and writes nothing', async () => {
    const before = await totals();
    const error = await refusal([{ sku: 'GOLD-BAR', quantity: 2 }]);
    expect(error).toMatchObject({ code: 'CK012', detail: '99999999' });
    expect(error.message).toContain('above the maximum charge of 99999999 nzd');
    expect(await totals()).toEqual(before);
  });

  it('uses the limits of the order\'s currency (GBP: 30)', async () => {
    expect(await refusal([{ sku: 'GBP-GUM', quantity: 2 }], 'gbp')).toMatchObject({ code: 'CK011', detail: '30' });
    expect((await create([{ sku: 'GBP-GUM', quantity: 3 }], 'gbp')).order.amountTotal).toBe(30);
  });

  it('reads the limits as data: a changed row changes the answer', async () => {
    await db.admin.query(sql.unsafe`update checkout.currency_limits set minimum_amount = 100 where currency = 'nzd'`);
    try {
      expect(await refusal([{ sku: 'LOLLY', quantity: 9 }])).toMatchObject({ code: 'CK011', detail: '100' });
    } finally {
      await db.admin.query(sql.unsafe`update checkout.currency_limits set minimum_amount = 50 where currency = 'nzd'`);
    }
    expect((await create([{ sku: 'LOLLY', quantity: 9 }])).order.amountTotal).toBe(90);
  });
});
