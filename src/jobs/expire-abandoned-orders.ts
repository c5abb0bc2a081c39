import Stripe from 'stripe';
import { expireOrder, findOrder, pendingOrdersOlderThan, type PendingOrder } from '../db/checkout-functions.ts';
import { sqlstateOf } from '../db/errors.ts';
import { applyPaymentIntentState } from './apply-payment-intent-state.ts';
import type { JobDeps } from './job-deps.ts';
import { countOutcomes, type JobRun } from './job-run.ts';
import { pendingOrdersLock } from './pending-orders-lock.ts';
import { runExclusively } from './run-exclusively.ts';

const outcomes = ['expired', 'confirmed', 'closedElsewhere', 'unchanged', 'anomaly', 'failed'] as const;
export type ExpiryOutcome = (typeof outcomes)[number];

/**
 * Abandoned orders (DESIGN.md, "the hard cases"): cancels the PaymentIntent at Stripe first and only
 * then marks the order EXPIRED, so a customer cannot pay an order that is already closed. If Stripe
 * refuses because the payment went through, the order is confirmed instead. An order without a
 * PaymentIntent never reached Stripe and expires directly. One failing order (Stripe down) is logged
 * and stays pending for the next run.
 */
export async function expireAbandonedOrders(deps: JobDeps, options: { olderThanSeconds: number }): Promise<JobRun<ExpiryOutcome>> {
  const run = await runExclusively(deps.pool, pendingOrdersLock, async () => {
    const orders = await pendingOrdersOlderThan(deps.pool, options.olderThanSeconds);
    const results: ExpiryOutcome[] = [];
    for (const order of orders) {
      if (deps.signal?.aborted) break;
      results.push(await expireOrderSafely(deps, order).catch((error: unknown) => {
        deps.logger.warn({ err: error, orderId: order.orderId, paymentIntentId: order.paymentIntentId }, 'expiry: order left pending, will retry next run');
        return 'failed' as const;
      }));
    }
    return countOutcomes(outcomes, results);
  });
  return run.ran ? run.result : { skipped: true };
}

async function expireOrderSafely(deps: JobDeps, order: PendingOrder): Promise<ExpiryOutcome> {
  const reason = `payment not completed within ${Math.floor(order.ageSeconds)} s`;
  if (order.paymentIntentId === null) return expire(deps, order, reason);

  let paymentIntent: Stripe.PaymentIntent;
  try {
    // No key of our own: Stripe saves a 500 under a key and replays it for 24 hours
    // (docs.stripe.com/idempotency), so a fixed key would block this order's expiry for a day. A
    // cancel needs none: cancelling again is refused as payment_intent_unexpected_state, handled below.
    paymentIntent = await deps.stripe.paymentIntents.cancel(order.paymentIntentId, { cancellation_reason: 'abandoned' });
  } catch (error) {
    // Stripe refuses to cancel a PaymentIntent that succeeded or is processing, or was cancelled
    // already (https://docs.stripe.com/api/payment_intents/cancel): ask what it is now.
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state')) throw error;
    paymentIntent = await deps.stripe.paymentIntents.retrieve(order.paymentIntentId);
  }

  if (paymentIntent.status === 'canceled') return expire(deps, order, `${reason}; PaymentIntent canceled`);
  const applied = await applyPaymentIntentState(deps.pool, paymentIntent);
  if (applied?.outcome === 'applied') {
    deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id }, 'expiry: PaymentIntent had succeeded, order confirmed instead');
    return 'confirmed';
  }
  if (applied?.outcome === 'anomaly') {
    // Paid, but not as ordered: never expire money taken; the anomaly waits for a person.
    deps.logger.warn({ orderId: order.orderId, paymentIntentId: paymentIntent.id, anomaly: applied.anomaly }, 'expiry: payment anomaly recorded, order left pending');
    return 'anomaly';
  }
  deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id, status: paymentIntent.status }, 'expiry: PaymentIntent not cancelable now, order left pending');
  return 'unchanged';
}

async function expire(deps: JobDeps, order: PendingOrder, reason: string): Promise<ExpiryOutcome> {
  try {
    await expireOrder(deps.pool, order.orderId, reason);
    return 'expired';
  } catch (error) {
    // The order moved since it was listed (a customer's cancel, a payment): closed either way. The
    // webhook of this job's own cancel (reason abandoned) expires it too, so that is not this case.
    // A POST /checkout holds the order right now (its PaymentIntent is being created): next run.
    if (sqlstateOf(error) === 'CK003') return 'unchanged';
    if (sqlstateOf(error) !== 'CK001') throw error;
    const now = await findOrder(deps.pool, order.orderId);
    deps.logger.info({ orderId: order.orderId, status: now?.status }, 'expiry: order was closed meanwhile');
    return 'closedElsewhere';
  }
}
