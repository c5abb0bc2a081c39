import { sql, type DatabasePool } from 'slonik';

/** A small grocery price list for the embedded default and the tests (amounts in cents, NZD). */
export const demoCatalog = [
  { sku: 'MILK-2L', name: 'Fresh milk 2L', unitAmount: 599 },
  { sku: 'BREAD-WHOLEMEAL', name: 'Wholemeal bread 700g', unitAmount: 429 },
  { sku: 'EGGS-12', name: 'Free range eggs, dozen', unitAmount: 899 },
  { sku: 'BANANAS-1KG', name: 'Bananas 1kg', unitAmount: 349 },
  { sku: 'APPLES-1KG', name: 'Braeburn apples 1kg', unitAmount: 499 },
  { sku: 'CHEESE-1KG', name: 'Mild cheddar 1kg', unitAmount: 1399 },
  { sku: 'COFFEE-200G', name: 'Ground coffee 200g', unitAmount: 1149 },
] as const;

/** Inserts the demo products that are missing; never changes a price someone already set. */
export async function seedDemoCatalog(ownerPool: DatabasePool): Promise<void> {
  await ownerPool.query(sql.unsafe`
    insert into checkout.products (sku, name, unit_amount, currency)
    select * from ${sql.unnest(
      demoCatalog.map((p) => [p.sku, p.name, p.unitAmount, 'nzd']),
      ['text', 'text', 'int8', 'text'],
    )}
    on conflict (sku) do nothing`);
}
