// GET /products (issue 13): the catalog through checkout.list_products, a bounded page at a time.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { demoCatalog } from '../../src/db/demo-catalog.ts';
import { request, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
  await service.db.admin.query(sql.unsafe`
    insert into checkout.products (sku, name, unit_amount, currency, active) values ('ZZ-RETIRED', 'Retired <b>tea</b>', 250, 'nzd', false)`);
});
afterAll(async () => service?.stop());

const allSkus = () => [...demoCatalog.map((p) => p.sku), 'ZZ-RETIRED'].sort();

describe('GET /products', () => {
  it('lists the catalog in SKU order with price, currency and whether it can be ordered', async () => {
    const response = await request(service, 'GET', '/products');
    expect(response.status).toBe(200);
    expect(response.body.next).toBeNull();
    expect(response.body.products.map((p: { sku: string }) => p.sku)).toEqual(allSkus());
    expect(response.body.products).toContainEqual({ sku: 'MILK-2L', name: 'Fresh milk 2L', unitAmount: 599, currency: 'nzd', active: true });
    // Names are data, returned as stored: escaping them is the job of whoever renders them.
    expect(response.body.products).toContainEqual({ sku: 'ZZ-RETIRED', name: 'Retired <b>tea</b>', unitAmount: 250, currency: 'nzd', active: false });
  });

  it('pages with a next link until the last page, which has none', async () => {
    const seen: string[] = [];
    let next: string | null = '/products?limit=3';
    let pages = 0;
    while (next !== null) {
      const page = await request(service, 'GET', next);
      expect(page.status).toBe(200);
      expect(page.body.products.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.products.map((p: { sku: string }) => p.sku));
      next = page.body.next;
      pages += 1;
    }
    expect(seen).toEqual(allSkus());
    expect(pages).toBe(Math.ceil(allSkus().length / 3));
  });

  it('a page that ends exactly at the last product says so', async () => {
    const all = allSkus();
    const response = await request(service, 'GET', `/products?after=${encodeURIComponent(all.at(-3)!)}&limit=2`);
    expect(response.body.products.map((p: { sku: string }) => p.sku)).toEqual(all.slice(-2));
    expect(response.body.next).toBeNull();
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=501', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1&limit=2', 'limit'],
    [`after=${'A'.repeat(65)}`, 'after'],
    ['after=%00', 'after'],
    ['sort=name', 'sort'],
  ])('refuses ?%s with 400 naming the query parameter', async (query, field) => {
    const response = await request(service, 'GET', `/products?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body.errors).toEqual([expect.objectContaining({ field, in: 'query' })]);
  });

  it('is read-only: POST is 405', async () => {
    const response = await request(service, 'POST', '/products', { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(response.status).toBe(405);
  });
});
