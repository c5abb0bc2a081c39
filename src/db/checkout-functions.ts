// Typed calls of the SQL API functions (migrations/0005, 0006, 0021, 0025): the only SQL the handlers run.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { retryOnConflict } from './retry.ts';

const orderLine = z.object({
  sku: z.string(), name: z.string(), quantity: z.number().int(), unitAmount: z.number().int(), lineTotal: z.number().int(),
});

const orderStatus = z.enum(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED']);

export const orderSchema = z.object({
  orderId: z.uuid(),
  customerId: z.string(),
  status: orderStatus,
  currency: z.string(),
  amountTotal: z.number().int(),
  amountReceived: z.number().int().nullable(),
  amountRefunded: z.number().int(),
  paymentIntentId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  lines: z.array(orderLine),
  history: z.array(z.object({
    from: orderStatus.nullable(), to: orderStatus, at: z.string(), source: z.string(), reason: z.string().nullable(),
  })),
  paymentEvents: z.array(z.object({
    stripeEventId: z.string(), type: z.string(), at: z.string(), outcome: z.string(), detail: z.unknown(),
  })),
});
export type Order = z.infer<typeof orderSchema>;

/** An order as create_order and attach_payment_intent answer it (migrations/0040): what POST /checkout shows. */
export const checkoutOrderSchema = orderSchema.pick({ orderId: true, status: true, currency: true, amountTotal: true, paymentIntentId: true, lines: true });
export type CheckoutOrder = z.infer<typeof checkoutOrderSchema>;

export type NewOrder = {
  idempotencyKey: string;
  customerId: string;
  currency: string;
  items: Array<{ sku: string; quantity: number }>;
  leaseSeconds: number;
};

/**
 * The Stripe side of one POST /checkout holding the lease (migrations/0025, begin_checkout_attempt):
 * the idempotency key to create the PaymentIntent under, and whether to look first for what earlier
 * attempts of the order made at Stripe.
 */
const checkoutAttemptSchema = z.object({ number: z.number().int().min(1), idempotencyKey: z.string(), searchFirst: z.boolean() });
export type CheckoutAttempt = z.infer<typeof checkoutAttemptSchema>;

const createOrderResult = z.object({
  result: z.discriminatedUnion('outcome', [
    // This request holds the order's checkout lease; the token proves it to attach / end the attempt.
    z.object({ outcome: z.literal('created'), order: checkoutOrderSchema, checkoutToken: z.uuid(), attempt: checkoutAttemptSchema }),
    z.object({ outcome: z.literal('resumed'), order: checkoutOrderSchema, checkoutToken: z.uuid(), attempt: checkoutAttemptSchema }),
    z.object({ outcome: z.literal('replayed'), order: checkoutOrderSchema }),
    z.object({ outcome: z.literal('closed'), order: checkoutOrderSchema }),
  ]),
});
export type CreatedOrder = z.infer<typeof createOrderResult>['result'];

// The calls of every request are named prepared statements (slonik's sql.prepared): PostgreSQL
// parses and plans each once per connection instead of once per call (issue 12, bench/README.md).
export async function createOrder(pool: DatabasePool, input: NewOrder): Promise<CreatedOrder> {
  return retryOnConflict(() => pool.oneFirst(sql.prepared('checkout_create_order', createOrderResult)`
    select checkout.create_order(
      ${input.idempotencyKey}, ${input.customerId}, ${input.currency}, ${sql.jsonb(input.items)},
      make_interval(secs => ${input.leaseSeconds})) as result`));
}

const attachResult = z.object({ result: z.object({ outcome: z.enum(['attached', 'closed']), order: checkoutOrderSchema }) });

/** CK014 when another request took the order's checkout over; outcome closed when the order was closed meanwhile. */
export async function attachPaymentIntent(pool: DatabasePool, orderId: string, paymentIntentId: string, checkoutToken: string) {
  return retryOnConflict(() => pool.oneFirst(sql.prepared('checkout_attach_payment_intent', attachResult)`
    select checkout.attach_payment_intent(${orderId}, ${paymentIntentId}, ${checkoutToken}) as result`));
}

/**
 * How an attempt ended without a PaymentIntent (migrations/0025): `stripe_error` when Stripe answered
 * an error it keeps under the key (or the search failed), `unfinished` when no such answer came.
 */
export type AttemptEnd = 'stripe_error' | 'unfinished';

/** Records the end of the attempt of `checkoutToken` and ends its lease early (whether it still held it). */
export async function endCheckoutAttempt(
  pool: DatabasePool, orderId: string, checkoutToken: string, outcome: AttemptEnd, detail: string,
): Promise<boolean> {
  return retryOnConflict(() => pool.oneFirst(sql.type(z.object({ released: z.boolean() }))`
    select checkout.end_checkout_attempt(${orderId}, ${checkoutToken}, ${outcome}, ${detail}) as released`));
}

/** Ends the lease early if `checkoutToken` still holds it; whether it did. */
export async function releaseCheckoutLease(pool: DatabasePool, orderId: string, checkoutToken: string): Promise<boolean> {
  return pool.oneFirst(sql.type(z.object({ released: z.boolean() }))`
    select checkout.release_checkout_lease(${orderId}, ${checkoutToken}) as released`);
}

export async function findOrder(pool: DatabasePool, orderId: string): Promise<Order | null> {
  return pool.oneFirst(sql.type(z.object({ order: orderSchema.nullable() }))`
    select checkout.order_json(${orderId}) as order`);
}

const appliedEvent = z.object({
  result: z.object({
    outcome: z.enum(['applied', 'duplicate', 'ignored', 'anomaly']),
    orderId: z.uuid().nullable(),
    anomaly: z.string().nullable().optional(),
  }),
});
export type AppliedStripeEvent = z.infer<typeof appliedEvent>['result'];

export async function applyStripeEvent(
  pool: DatabasePool,
  event: { id: string; type: string; object: unknown },
  source: 'stripe_webhook' | 'reconciliation' = 'stripe_webhook',
): Promise<AppliedStripeEvent> {
  return retryOnConflict(() => pool.oneFirst(sql.prepared('checkout_apply_stripe_event', appliedEvent)`
    select checkout.apply_stripe_event(${event.id}, ${event.type}, ${sql.jsonb(event.object as never)}, ${source}) as result`));
}

export async function transitionCounts(pool: DatabasePool) {
  return pool.any(sql.type(z.object({ from: z.string().nullable(), to: z.string(), transitions: z.number() }))`
    select from_status as "from", to_status as "to", transitions::int as transitions from checkout.transition_counts()`);
}
// --- The outbox (migrations/0011): retention and what /metrics reports about its delivery.

const purgeResult = z.object({ deletedEvents: z.number().int(), deletedHeartbeats: z.number().int(), slotFound: z.boolean() });

export async function purgeOutbox(pool: DatabasePool, retentionDays: number) {
  return pool.oneFirst(sql.type(z.object({ result: purgeResult.passthrough() }))`
    select checkout.purge_outbox(make_interval(days => ${retentionDays})) as result`);
}

const deliveryStatus = z.object({
  slotExists: z.boolean(), slotActive: z.boolean(), slotLagBytes: z.number().nullable(), oldestEventAgeSeconds: z.number().nullable(),
});
export type OutboxDeliveryStatus = z.infer<typeof deliveryStatus>;

export async function outboxDeliveryStatus(pool: DatabasePool): Promise<OutboxDeliveryStatus> {
  return pool.one(sql.type(deliveryStatus)`
    select slot_exists as "slotExists", slot_active as "slotActive", slot_lag_bytes::float8 as "slotLagBytes",
           oldest_event_age_seconds as "oldestEventAgeSeconds"
      from checkout.outbox_delivery_status()`);
}

