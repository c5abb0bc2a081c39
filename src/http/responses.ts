// The response bodies, in zod: every handler sends through sendJson with one of these, and
// src/http/openapi.ts documents the same schemas (issue 11.5), so neither can change alone. Parsing
// also strips any field not named here: a field added to an order row (the client secret, say)
// cannot leak through a response by accident.
import type { Context } from 'koa';
import { z } from 'zod';
import { orderSchema } from '../db/checkout-functions.ts';

const status = orderSchema.shape.status;
const uuid = z.uuid();
const currency = z.string().regex(/^[a-z]{3}$/);
const minorUnits = (description: string) => z.number().int().meta({ description: `${description} In the currency's minor unit (cents).` });

export const orderLineSchema = z.object({
  sku: z.string(),
  name: z.string(),
  quantity: z.number().int().min(1).max(999),
  unitAmount: minorUnits('Catalog price of one.'),
  lineTotal: minorUnits('unitAmount × quantity.'),
});

const orderCore = {
  orderId: uuid,
  status,
  currency,
  amountTotal: minorUnits('Total of the lines.'),
  lines: z.array(orderLineSchema),
  paymentIntentId: z.string().nullable(),
};

export const checkoutResponseSchema = z.object({
  ...orderCore,
  clientSecret: z.string().optional().meta({
    description: 'For Stripe.js to confirm the PaymentIntent; returned only here, and not for an order already paid (nothing is left to pay with it).',
  }),
});

// Never the client secret: it lets its holder pay, and GET is not bound to the shopper's session.
export const orderResponseSchema = z.object({
  ...orderCore,
  amountReceived: minorUnits('What Stripe reported as received, once confirmed.').nullable(),
  amountRefunded: minorUnits('Refunded so far.'),
  createdAt: z.string(),
  updatedAt: z.string(),
  history: z.array(z.object({
    from: status.nullable(), to: status, at: z.string(), source: z.string(), reason: z.string().nullable(),
  })),
  paymentEvents: z.array(z.object({
    stripeEventId: z.string(), type: z.string(), at: z.string(), outcome: z.string(), detail: z.unknown(),
  })),
});

// GET /products: the catalog a frontend builds its basket from (prices as the service will charge them).
export const productsResponseSchema = z.object({
  products: z.array(z.object({
    sku: z.string(),
    name: z.string(),
    unitAmount: minorUnits('Price of one.'),
    currency,
    active: z.boolean().meta({ description: 'Inactive products cannot be ordered (POST /checkout answers 422).' }),
  })),
  next: z.string().nullable().meta({ description: 'The next page (same limit), or null after the last one.' }),
});

export const webhookResponseSchema = z.object({
  received: z.literal(true),
  outcome: z.enum(['applied', 'duplicate', 'ignored', 'anomaly']),
  orderId: uuid.nullable(),
});

export const healthResponseSchema = z.object({ status: z.literal('ok') });

export const readinessResponseSchema = z.object({
  status: z.enum(['ready', 'migrations pending', 'unavailable']),
  database: z.enum(['ok', 'unreachable']),
  pendingMigrations: z.array(z.string()).optional(),
  detail: z.string().optional(),
});

/** RFC 9457 problem details, as src/http/problem.ts writes them. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), in: z.enum(['body', 'header', 'path', 'query']), message: z.string() })).optional(),
  // The key of a closed order (409 /problems/order-cancelled, -expired, -refunded): which order, in which status.
  orderId: z.uuid().optional(),
  orderStatus: z.enum(['CANCELLED', 'EXPIRED', 'REFUNDED']).optional(),
});
export type ProblemDocument = z.output<typeof problemSchema>;

/** Answers `status` with `value` as `schema` describes it (unknown fields dropped). */
export function sendJson<S extends z.ZodType>(ctx: Context, status: number, schema: S, value: z.input<S>): void {
  ctx.status = status;
  ctx.body = schema.parse(value);
}
