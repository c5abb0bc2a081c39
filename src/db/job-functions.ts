// Typed calls of the SQL functions the background jobs use (migrations/0022, 0023, 0024): which pending
// orders are due, the expiry claim, the expiry itself, the back-off bookkeeping, and the sweep of
// PaymentIntents that failed checkout attempts may have left.
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { retryOnConflict } from './retry.ts';

const dueOrder = z.object({ orderId: z.uuid(), paymentIntentId: z.string().nullable(), idleSeconds: z.number() });
export type DueOrder = z.infer<typeof dueOrder>;

/**
 * At most `limit` pending orders idle for `idleSeconds` (only those with a PaymentIntent when
 * `paymentIntentRequired`), not held, not backed off; least recently looked at first.
 */
export async function ordersDueForCheck(
  pool: DatabasePool, options: { idleSeconds: number; limit: number; paymentIntentRequired: boolean },
): Promise<readonly DueOrder[]> {
  return pool.any(sql.type(dueOrder)`
    select order_id as "orderId", payment_intent_id as "paymentIntentId", extract(epoch from idle)::float8 as "idleSeconds"
      from checkout.orders_due_for_check(make_interval(secs => ${options.idleSeconds}), ${options.limit}, ${options.paymentIntentRequired})`);
}

const claim = z.object({
  claim: z.discriminatedUnion('outcome', [
    z.object({ outcome: z.literal('claimed'), checkoutToken: z.uuid() }),
    z.object({ outcome: z.enum(['resumed', 'busy']) }),
    z.object({ outcome: z.literal('closed'), status: z.string() }),
  ]),
});
export type ExpiryClaim = z.infer<typeof claim>['claim'];

/** Takes the order's checkout lease for `leaseSeconds` if it is still as listed (same PaymentIntent, still idle). */
export async function claimOrderForExpiry(
  pool: DatabasePool, order: Pick<DueOrder, 'orderId' | 'paymentIntentId'>, idleSeconds: number, leaseSeconds: number,
): Promise<ExpiryClaim> {
  return retryOnConflict(() => pool.oneFirst(sql.type(claim)`
    select checkout.claim_order_for_expiry(${order.orderId}, ${order.paymentIntentId},
      make_interval(secs => ${idleSeconds}), make_interval(secs => ${leaseSeconds})) as claim`));
}

/**
 * PENDING_PAYMENT -> EXPIRED (source expiry_job) by the run holding `checkoutToken`, after it cancelled
 * `paymentIntentId` (or with none): applied, or ignored when already EXPIRED; CK013 when the order's
 * PaymentIntent or lease holder differs; CK001 from any other status.
 */
export async function expireOrder(
  pool: DatabasePool, order: { orderId: string; paymentIntentId: string | null; checkoutToken: string }, reason: string,
): Promise<'applied' | 'ignored'> {
  return retryOnConflict(() => pool.oneFirst(sql.type(z.object({ outcome: z.enum(['applied', 'ignored']) }))`
    select checkout.expire_order(${order.orderId}, ${order.paymentIntentId}, ${order.checkoutToken}, ${reason}) as outcome`));
}

const orderCheck = z.object({
  check: z.object({ outcome: z.enum(['ok', 'stripe_failed', 'open_anomaly']), failures: z.number().int(), nextCheckAt: z.string() }),
});
export type OrderCheck = z.infer<typeof orderCheck>['check'];

/** Records that a job looked at the order at Stripe; a Stripe failure or an open anomaly backs it off. */
export async function recordOrderCheck(pool: DatabasePool, orderId: string, stripeFailed: boolean): Promise<OrderCheck> {
  return retryOnConflict(() => pool.oneFirst(sql.type(orderCheck)`
    select checkout.record_order_check(${orderId}, ${stripeFailed}) as check`));
}

const sweepDue = z.object({ orderId: z.uuid(), paymentIntentId: z.string().nullable(), status: z.string() });
export type SweepDueOrder = z.infer<typeof sweepDue>;

/**
 * At most `limit` orders whose PaymentIntents are due for a sweep: their checkout has been quiet at
 * Stripe for `afterSeconds` (or a day, for the second sweep), and they are closed or have their
 * PaymentIntent attached; least recently swept first.
 */
export async function ordersDueForPaymentIntentSweep(
  pool: DatabasePool, options: { afterSeconds: number; limit: number },
): Promise<readonly SweepDueOrder[]> {
  return pool.any(sql.type(sweepDue)`
    select order_id as "orderId", payment_intent_id as "paymentIntentId", status
      from checkout.orders_due_for_payment_intent_sweep(make_interval(secs => ${options.afterSeconds}), ${options.limit})`);
}

const sweepRecord = z.object({
  sweep: z.object({
    outcome: z.enum(['clean', 'stripe_failed', 'still_payable']), cleanSweeps: z.number().int(), failures: z.number().int(),
    nextSweepAt: z.string().nullable(),
  }),
});
export type SweepRecord = z.infer<typeof sweepRecord>['sweep'];

/** Records a sweep of the order: clean counts towards the two that end it; the others back it off. */
export async function recordPaymentIntentSweep(
  pool: DatabasePool, orderId: string, outcome: SweepRecord['outcome'],
): Promise<SweepRecord> {
  return retryOnConflict(() => pool.oneFirst(sql.type(sweepRecord)`
    select checkout.record_payment_intent_sweep(${orderId}, ${outcome}) as sweep`));
}
