import Router from '@koa/router';
import type { DatabasePool } from 'slonik';
import { z } from 'zod';
import { listProducts } from '../../db/list-products.ts';
import { productsResponseSchema, sendJson } from '../responses.ts';
import { text } from '../text.ts';
import { parseOrThrow } from '../validation.ts';

export const PRODUCTS_PAGE_MAX = 500;

// A repeated parameter (?limit=1&limit=2) arrives as an array and is refused like any bad value.
export const productsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(PRODUCTS_PAGE_MAX).default(100)
    .meta({ description: `Products per page, 1 to ${PRODUCTS_PAGE_MAX}.` }),
  after: text({ max: 64, description: 'The last SKU of the previous page (its `next` link carries it).' }).optional(),
});

export function productRoutes(deps: { pool: DatabasePool }) {
  const router = new Router();
  router.get('/products', async (ctx) => {
    const { limit, after } = parseOrThrow(productsQuerySchema, ctx.query, 'query');
    // One more than asked says whether another page follows, without a count over the catalog.
    const rows = await listProducts(deps.pool, { afterSku: after, limit: limit + 1 });
    const products = rows.slice(0, limit);
    const last = products.at(-1);
    const next = rows.length > limit && last ? `/products?${new URLSearchParams({ after: last.sku, limit: String(limit) })}` : null;
    sendJson(ctx, 200, productsResponseSchema, { products, next });
  });
  return router;
}
