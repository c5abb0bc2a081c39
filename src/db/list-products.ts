// Typed call of checkout.list_products (migrations/0045).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

const product = z.object({
  sku: z.string(),
  name: z.string(),
  unitAmount: z.number().int(),
  currency: z.string(),
  active: z.boolean(),
});
export type Product = z.infer<typeof product>;

/** Up to `limit` products in SKU order, after `afterSku` when given (keyset pagination). */
export async function listProducts(pool: DatabasePool, page: { afterSku: string | undefined; limit: number }): Promise<readonly Product[]> {
  return pool.any(sql.type(product)`
    select sku, name, unit_amount::float8 as "unitAmount", currency, active
      from checkout.list_products(${page.afterSku ?? null}, ${page.limit})`);
}
