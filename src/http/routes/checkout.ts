import Router from '@koa/router';
import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { z } from 'zod';
import { startCheckout } from '../../checkout/start-checkout.ts';
import { readJsonBody } from '../body.ts';
import type { Metrics } from '../metrics.ts';
import { closedOrderProblem, validationProblem, type FieldError } from '../problem.ts';
import { checkoutResponseSchema, sendJson } from '../responses.ts';
import { text } from '../text.ts';
import { fieldErrors } from '../validation.ts';

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7E]{1,255}$/, 'must be 1 to 255 printable ASCII characters')
  .meta({
    description: 'Same key and body again: the same order (Idempotent-Replayed: true), with its clientSecret while it waits for payment, '
      + 'without once paid; 409 /problems/order-{cancelled,expired,refunded} once closed.',
  });

// Every number is a safe integer in the contract's range before SQL sees it (zod's int() is
// Number.isSafeInteger; JSON's 1e3 is 1000 and refused, 1e400 is Infinity and refused).
export const checkoutRequestSchema = z.strictObject({
  customerId: text({ max: 64, description: "The shopper's id in the frontend." }),
  currency: z.string().regex(/^[a-z]{3}$/, 'must be a lower-case ISO 4217 code').default('nzd'),
  items: z
    .array(z.strictObject({
      sku: text({ max: 64 }),
      quantity: z.number().int().min(1).max(999),
    }))
    .min(1)
    .max(100)
    .refine((items) => new Set(items.map((i) => i.sku)).size === items.length, 'each SKU may appear only once')
    .meta({ description: '1 to 100 lines, a SKU at most once.' }),
});

export function checkoutRoutes(deps: { pool: DatabasePool; stripe: Stripe; metrics: Metrics; leaseSeconds: number }) {
  const router = new Router();
  router.post('/checkout', async (ctx) => {
    const body = await readJsonBody(ctx);
    const key = idempotencyKeySchema.safeParse(ctx.get('idempotency-key'));
    const parsed = checkoutRequestSchema.safeParse(body);
    const errors: FieldError[] = [
      ...(key.success ? [] : [{ field: 'Idempotency-Key', in: 'header' as const, message: key.error.issues[0]?.message ?? 'invalid' }]),
      ...(parsed.success ? [] : fieldErrors(parsed.error, 'body')),
    ];
    if (!key.success || !parsed.success) throw validationProblem(errors);

    const result = await startCheckout(
      { pool: deps.pool, stripe: deps.stripe, log: ctx.state.log },
      { idempotencyKey: key.data, ...parsed.data, leaseSeconds: deps.leaseSeconds },
    );
    deps.metrics.checkouts.inc({ outcome: result.outcome });
    if (result.outcome === 'closed') throw closedOrderProblem(result.order);
    if (result.outcome === 'replayed') ctx.set('Idempotent-Replayed', 'true');
    ctx.set('Location', `/orders/${result.order.orderId}`);
    // A paid order comes without a client secret (README, "Deviations from CONTRACT.md").
    sendJson(ctx, 201, checkoutResponseSchema, { ...result.order, ...(result.clientSecret !== undefined && { clientSecret: result.clientSecret }) });
  });
  return router;
}
