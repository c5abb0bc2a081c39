// Typed calls of the SQL API functions (migrations/0005, 0006): the only SQL the handlers run.
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

export type NewOrder = {
  idempotencyKey: string;
  customerId: string;
  currency: string;
  items: Array<{ sku: string; quantity: number }>;
  leaseSeconds: number;
};

const createOrderResult = z.object({
  result: z.object({ outcome: z.enum(['created', 'replayed', 'resumed']), order: orderSchema }),
});

export async function createOrder(pool: DatabasePool, input: NewOrder) {
  return retryOnConflict(() => pool.oneFirst(sql.type(createOrderResult)`
    select checkout.create_order(
      ${input.idempotencyKey}, ${input.customerId}, ${input.currency}, ${sql.jsonb(input.items)},
      make_interval(secs => ${input.leaseSeconds})) as result`));
}

export async function attachPaymentIntent(pool: DatabasePool, orderId: string, paymentIntentId: string): Promise<Order> {
  return retryOnConflict(() => pool.oneFirst(sql.type(z.object({ order: orderSchema }))`
    select checkout.attach_payment_intent(${orderId}, ${paymentIntentId}) as order`));
}

export async function releaseCheckoutLease(pool: DatabasePool, orderId: string): Promise<void> {
  await pool.query(sql.unsafe`select checkout.release_checkout_lease(${orderId})`);
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
  return retryOnConflict(() => pool.oneFirst(sql.type(appliedEvent)`
    select checkout.apply_stripe_event(${event.id}, ${event.type}, ${sql.jsonb(event.object as never)}, ${source}) as result`));
}

export async function transitionCounts(pool: DatabasePool) {
  return pool.any(sql.type(z.object({ from: z.string().nullable(), to: z.string(), transitions: z.number() }))`
    select from_status as "from", to_status as "to", transitions::int as transitions from checkout.transition_counts()`);
}

// --- Background jobs (src/jobs): expiry and reconciliation of pending orders (migrations/0005, 0008).

const pendingOrder = z.object({ orderId: z.uuid(), paymentIntentId: z.string().nullable(), ageSeconds: z.number() });
export type PendingOrder = z.infer<typeof pendingOrder>;

/** PENDING_PAYMENT orders created more than `seconds` ago, oldest first. */
export async function pendingOrdersOlderThan(pool: DatabasePool, seconds: number): Promise<readonly PendingOrder[]> {
  return pool.any(sql.type(pendingOrder)`
    select order_id as "orderId", payment_intent_id as "paymentIntentId", extract(epoch from age)::float8 as "ageSeconds"
      from checkout.pending_orders_older_than(make_interval(secs => ${seconds}))`);
}

/** PENDING_PAYMENT -> EXPIRED (source expiry_job): applied, or ignored when already EXPIRED; CK001 from any other status. */
export async function expireOrder(pool: DatabasePool, orderId: string, reason: string): Promise<'applied' | 'ignored'> {
  return retryOnConflict(() => pool.oneFirst(sql.type(z.object({ outcome: z.enum(['applied', 'ignored']) }))`
    select checkout.expire_order(${orderId}, ${reason}) as outcome`));
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
