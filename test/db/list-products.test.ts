// checkout.list_products (migrations/0045): what GET /products and DBAs read of the price list.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedCatalog } from '../support/orders.ts';
import { loginUrl } from '../support/postgres.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  await db.admin.query(sql.unsafe`update checkout.products set active = false where sku = 'COFFEE-200G'`);
});
afterAll(async () => db?.drop());

const skus = (after: string | null, limit: number | null) =>
  db.app.anyFirst(sql.unsafe`select sku from checkout.list_products(${after}, ${limit})`);

describe('checkout.list_products', () => {
  it('returns every product in SKU order, inactive ones flagged', async () => {
    const rows = await db.app.any(sql.type(z.object({ sku: z.string(), active: z.boolean() }))`
      select sku, active from checkout.list_products(null, null)`);
    expect(rows.map((r) => r.sku)).toEqual([...rows.map((r) => r.sku)].sort());
    expect(rows).toContainEqual({ sku: 'COFFEE-200G', active: false });
    expect(rows).toContainEqual({ sku: 'MILK-2L', active: true });
  });

  it('pages by the last SKU seen', async () => {
    const all = await skus(null, null);
    expect(await skus(null, 2)).toEqual(all.slice(0, 2));
    expect(await skus(all[1] as string, 2)).toEqual(all.slice(2, 4));
    expect(await skus(all.at(-1) as string, 2)).toEqual([]);
  });

  it('keeps a page between 1 and 1000 rows whatever it is asked', async () => {
    expect(await skus(null, 0)).toHaveLength(1);
    expect(await skus(null, -5)).toHaveLength(1);
    await db.admin.query(sql.unsafe`
      insert into checkout.products (sku, name, unit_amount) select 'BULK-' || lpad(i::text, 4, '0'), 'Bulk ' || i, 100 from generate_series(1, 1100) i`);
    expect(await skus(null, 5000)).toHaveLength(1000);
    expect(await skus(null, null)).toHaveLength(100);
  });

  it('DBAs (checkout_readonly) may call it', async () => {
    const readonly = await createDatabasePool(loginUrl(db.url, 'checkout_readonly'));
    try {
      expect(await readonly.oneFirst(sql.unsafe`select count(*)::int from checkout.list_products(null, 1000)`)).toBeGreaterThan(0);
    } finally {
      await readonly.end();
    }
  });
});
