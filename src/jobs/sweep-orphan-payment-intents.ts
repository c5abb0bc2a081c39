import type Stripe from 'stripe';
import { cancelDuplicatePaymentIntent } from '../checkout/cancel-duplicate-payment-intent.ts';
import { isPayable, paymentIntentsOfOrder } from '../checkout/payment-intents-of-order.ts';
import { ordersDueForPaymentIntentSweep, recordPaymentIntentSweep, type SweepDueOrder } from '../db/job-functions.ts';
import { cancelOrRetrieve } from './cancel-or-retrieve.ts';
import { forEachDueOrder } from './for-each-due-order.ts';
import type { JobDeps } from './job-deps.ts';
import type { JobRun } from './job-run.ts';

const outcomes = ['clean', 'cancelled', 'stillPayable', 'paidOrphan'] as const;
type Swept = (typeof outcomes)[number];
export type SweepOutcome = Swept | 'failed';

/** The jobs' deps, with Stripe's search as well. */
export type SweepDeps = JobDeps & { stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'search'> } };

export type SweepOptions = {
  /**
   * How long after an order's checkout last called Stripe its PaymentIntents are searched: Stripe's
   * search shows new data "in under 1 minute" normally (https://docs.stripe.com/search#data-freshness).
   */
  afterSeconds: number;
  batchSize: number;
};

/**
 * Never two payable PaymentIntents for one order (issue 9.1). A checkout attempt that failed at Stripe
 * may have left one nobody holds: a 500 that Stripe saved after creating it, an answer lost on the way
 * back with the key then outlived. A resume cannot always find it (search lags), so once the order has
 * its PaymentIntent attached, or is closed, this job searches the order's PaymentIntents at Stripe
 * and cancels every payable one but the attached (reason duplicate: apply_stripe_event ignores their
 * webhooks, as they are not the order's). SQL lists the orders (checkout.orders_due_for_payment_intent_sweep):
 * after `afterSeconds` of quiet, and again a day later in case search was delayed by an outage.
 * Bounded per run, backed off when Stripe fails or one cannot be cancelled yet. A paid one is not
 * ours to undo: its webhook makes it an anomaly for a person (payment_intent_mismatch, paid_after_close);
 * it is logged here too.
 */
export async function sweepOrphanPaymentIntents(deps: SweepDeps, options: SweepOptions): Promise<JobRun<SweepOutcome>> {
  return forEachDueOrder(deps, {
    name: 'sweep',
    outcomes,
    list: () => ordersDueForPaymentIntentSweep(deps.pool, { afterSeconds: options.afterSeconds, limit: options.batchSize }),
    examine: (order) => sweepOrder(deps, order),
    recordStripeFailure: (orderId) => recordPaymentIntentSweep(deps.pool, orderId, 'stripe_failed'),
  });
}

async function sweepOrder(deps: SweepDeps, order: SweepDueOrder): Promise<Swept> {
  const found = await paymentIntentsOfOrder(deps.stripe, order.orderId);
  const counts = { cancelled: 0, stillPayable: 0, paid: 0 };
  for (const orphan of found.filter((pi) => pi.id !== order.paymentIntentId)) {
    const now: Stripe.PaymentIntent = isPayable(orphan) ? await cancelOrRetrieve(deps, orphan.id, cancelDuplicatePaymentIntent) : orphan;
    const context = { orderId: order.orderId, orderStatus: order.status, paymentIntentId: now.id, attachedPaymentIntentId: order.paymentIntentId };
    if (now.status === 'succeeded') {
      counts.paid += 1;
      deps.logger.warn(context, 'sweep: a PaymentIntent of the order that is not its own was paid (an anomaly for a person)');
    } else if (isPayable(now)) {
      counts.stillPayable += 1;
      deps.logger.warn({ ...context, status: now.status }, 'sweep: a duplicate PaymentIntent cannot be cancelled yet, looking again later');
    } else if (isPayable(orphan)) {
      counts.cancelled += 1;
      deps.logger.info(context, 'sweep: cancelled a duplicate PaymentIntent of the order');
    }
  }
  await recordPaymentIntentSweep(deps.pool, order.orderId, counts.stillPayable > 0 ? 'still_payable' : 'clean');
  if (counts.stillPayable > 0) return 'stillPayable';
  if (counts.paid > 0) return 'paidOrphan';
  return counts.cancelled > 0 ? 'cancelled' : 'clean';
}
