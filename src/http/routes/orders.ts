import Router from '@koa/router';
import type { DatabasePool } from 'slonik';
import { z } from 'zod';
import { findOrder } from '../../db/checkout-functions.ts';
import { Problem } from '../problem.ts';
import { orderResponseSchema, sendJson } from '../responses.ts';
import { parseOrThrow } from '../validation.ts';

export const orderIdSchema = z.uuid({ message: 'must be a UUID' });

export function orderRoutes(deps: { pool: DatabasePool }) {
  const router = new Router();
  router.get('/orders/:orderId', async (ctx) => {
    const orderId = parseOrThrow(z.object({ orderId: orderIdSchema }), ctx.params, 'path').orderId;
    const order = await findOrder(deps.pool, orderId);
    if (!order) throw new Problem(404, 'order-not-found', 'Order not found', { detail: `No order ${orderId}.` });
    sendJson(ctx, 200, orderResponseSchema, order);
  });
  return router;
}
