import { cancelAbandonedPaymentIntent } from '../checkout/cancel-abandoned-payment-intent.ts';
import { releaseCheckoutLease } from '../db/checkout-functions.ts';
import { sqlstateOf } from '../db/errors.ts';
import { claimOrderForExpiry, expireOrder, ordersDueForCheck, recordOrderCheck, type DueOrder } from '../db/job-functions.ts';
import { applyPaymentIntentState } from './apply-payment-intent-state.ts';
import { cancelOrRetrieve } from './cancel-or-retrieve.ts';
import { forEachDueOrder } from './for-each-due-order.ts';
import type { JobDeps } from './job-deps.ts';
import type { JobRun } from './job-run.ts';

const outcomes = ['expired', 'confirmed', 'closedElsewhere', 'resumed', 'unchanged', 'anomaly'] as const;
type Examined = (typeof outcomes)[number];
export type ExpiryOutcome = Examined | 'failed';

export type ExpiryOptions = {
  /** Idle time since the order's last checkout activity (create, resume, replay, attach). */
  olderThanSeconds: number;
  batchSize: number;
  /** How long the job holds an order it works on (src/checkout/checkout-lease.ts, expiryClaimSeconds). */
  claimSeconds: number;
};

type HeldOrder = DueOrder & { checkoutToken: string };

/**
 * Abandoned orders (DESIGN.md, "the hard cases"). Each order is first claimed: the job takes its
 * checkout lease, only if no checkout activity happened since it was listed, so no customer can
 * resume or replay it (and get a client secret) while the job works on it. Then the PaymentIntent is
 * cancelled at Stripe and only then is the order EXPIRED, so a customer cannot pay an order that is
 * already closed. If Stripe refuses because the payment went through, the order is confirmed
 * instead. An order without a PaymentIntent attached expires directly: whatever its failed checkout
 * attempts may have left at Stripe is the sweep's (sweep-orphan-payment-intents.ts).
 */
export async function expireAbandonedOrders(deps: JobDeps, options: ExpiryOptions): Promise<JobRun<ExpiryOutcome>> {
  return forEachDueOrder(deps, {
    name: 'expiry',
    outcomes,
    list: () => ordersDueForCheck(deps.pool, { idleSeconds: options.olderThanSeconds, limit: options.batchSize, paymentIntentRequired: false }),
    examine: (order) => claimAndExpire(deps, order, options),
  });
}

async function claimAndExpire(deps: JobDeps, order: DueOrder, options: ExpiryOptions): Promise<Examined> {
  const claim = await claimOrderForExpiry(deps.pool, order, options.olderThanSeconds, options.claimSeconds);
  switch (claim.outcome) {
    case 'claimed':
      break;
    case 'resumed':
      deps.logger.info({ orderId: order.orderId }, 'expiry: the customer came back to the checkout since it was listed, order left pending');
      return 'resumed';
    case 'busy':
      // A POST /checkout holds the order right now (its PaymentIntent is being created): next run.
      return 'unchanged';
    case 'closed':
      deps.logger.info({ orderId: order.orderId, status: claim.status }, 'expiry: order was closed meanwhile');
      return 'closedElsewhere';
  }
  const held: HeldOrder = { ...order, checkoutToken: claim.checkoutToken };
  const outcome = await expireHeld(deps, held).catch(async (error: unknown) => {
    await release(deps, held);
    throw error;
  });
  if (outcome !== 'unchanged') return outcome;
  // Still pending at Stripe (processing, requires_action) or paid with an anomaly: hand the order back.
  await release(deps, held);
  const check = await recordOrderCheck(deps.pool, held.orderId, false);
  if (check.outcome !== 'open_anomaly') return 'unchanged';
  // Paid, but not as ordered: never expire money taken; the anomaly waits for a person.
  deps.logger.warn({ orderId: held.orderId, paymentIntentId: held.paymentIntentId, nextCheckAt: check.nextCheckAt }, 'expiry: order has an open payment anomaly, left pending and backed off');
  return 'anomaly';
}

async function expireHeld(deps: JobDeps, order: HeldOrder): Promise<Examined> {
  const reason = `payment not completed within ${Math.floor(order.idleSeconds)} s of the last checkout activity`;
  if (order.paymentIntentId === null) return expire(deps, order, reason);

  const paymentIntent = await cancelOrRetrieve(deps, order.paymentIntentId, cancelAbandonedPaymentIntent);
  if (paymentIntent.status === 'canceled') return expire(deps, order, `${reason}; PaymentIntent canceled`);
  const applied = await applyPaymentIntentState(deps.pool, paymentIntent);
  if (applied?.outcome === 'applied') {
    deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id }, 'expiry: PaymentIntent had succeeded, order confirmed instead');
    return 'confirmed';
  }
  deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id, status: paymentIntent.status, applied: applied?.outcome }, 'expiry: PaymentIntent not cancelable now');
  return 'unchanged';
}

async function expire(deps: JobDeps, order: HeldOrder, reason: string): Promise<Examined> {
  try {
    await expireOrder(deps.pool, order, reason);
    return 'expired';
  } catch (error) {
    // A webhook closed the order meanwhile (the customer's cancel: webhooks do not wait for leases).
    // The webhook of this job's own cancel (reason abandoned) expires it too, so that is not this case.
    if (sqlstateOf(error) === 'CK001') {
      deps.logger.info({ orderId: order.orderId }, 'expiry: order was closed meanwhile');
      return 'closedElsewhere';
    }
    // CK013: the claim ran out and a checkout request took the order over; it is the customer's again.
    if (sqlstateOf(error) === 'CK013') return 'resumed';
    throw error;
  }
}

async function release(deps: JobDeps, order: HeldOrder): Promise<void> {
  await releaseCheckoutLease(deps.pool, order.orderId, order.checkoutToken).catch((error: unknown) =>
    // It runs out by itself after claimSeconds.
    deps.logger.warn({ err: error, orderId: order.orderId }, 'expiry: could not release the claim'));
}
