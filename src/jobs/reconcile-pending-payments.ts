import { ordersDueForCheck, recordOrderCheck, type DueOrder } from '../db/job-functions.ts';
import { applyPaymentIntentState, retrievePaymentIntent } from './apply-payment-intent-state.ts';
import { forEachDueOrder } from './for-each-due-order.ts';
import type { JobDeps } from './job-deps.ts';
import type { JobRun } from './job-run.ts';

const outcomes = ['confirmed', 'cancelled', 'unchanged', 'anomaly'] as const;
export type ReconcileOutcome = (typeof outcomes)[number] | 'failed';

/**
 * A missed webhook (Stripe gave up, the endpoint was down): asks Stripe for the PaymentIntent of at
 * most `batchSize` orders still pending `olderThanSeconds` after their last checkout activity, and
 * applies a succeeded or canceled one the way its webhook would have. An order with an open payment
 * anomaly (or on which Stripe keeps failing) is asked about less and less often (record_order_check).
 */
export async function reconcilePendingPayments(
  deps: JobDeps, options: { olderThanSeconds: number; batchSize: number },
): Promise<JobRun<ReconcileOutcome>> {
  return forEachDueOrder(deps, {
    name: 'reconciliation',
    outcomes,
    list: () => ordersDueForCheck(deps.pool, { idleSeconds: options.olderThanSeconds, limit: options.batchSize, paymentIntentRequired: true }),
    examine: (order) => reconcileOrder(deps, order),
  });
}

async function reconcileOrder(deps: JobDeps, order: DueOrder): Promise<(typeof outcomes)[number]> {
  const paymentIntent = await retrievePaymentIntent(deps, order.paymentIntentId!);
  const applied = await applyPaymentIntentState(deps.pool, paymentIntent);
  if (applied?.outcome === 'applied') {
    deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id, status: paymentIntent.status }, 'reconciliation: applied a missed PaymentIntent state');
    return paymentIntent.status === 'succeeded' ? 'confirmed' : 'cancelled';
  }
  const check = await recordOrderCheck(deps.pool, order.orderId, false);
  if (check.outcome === 'open_anomaly') {
    deps.logger.warn({ orderId: order.orderId, paymentIntentId: paymentIntent.id, anomaly: applied?.anomaly, nextCheckAt: check.nextCheckAt }, 'reconciliation: order has an open payment anomaly, backing off');
    return 'anomaly';
  }
  return 'unchanged';
}
