import { pendingOrdersOlderThan, type PendingOrder } from '../db/checkout-functions.ts';
import { applyPaymentIntentState, retrievePaymentIntent } from './apply-payment-intent-state.ts';
import type { JobDeps } from './job-deps.ts';
import { countOutcomes, type JobRun } from './job-run.ts';
import { pendingOrdersLock } from './pending-orders-lock.ts';
import { runExclusively } from './run-exclusively.ts';

const outcomes = ['confirmed', 'cancelled', 'unchanged', 'anomaly', 'failed'] as const;
export type ReconcileOutcome = (typeof outcomes)[number];

/**
 * A missed webhook (Stripe gave up, the endpoint was down): asks Stripe for the PaymentIntent of
 * every order still pending after `olderThanSeconds` and applies a succeeded or canceled one the way
 * its webhook would have. One failing order is logged and left for the next run.
 */
export async function reconcilePendingPayments(deps: JobDeps, options: { olderThanSeconds: number }): Promise<JobRun<ReconcileOutcome>> {
  const run = await runExclusively(deps.pool, pendingOrdersLock, async () => {
    const orders = (await pendingOrdersOlderThan(deps.pool, options.olderThanSeconds)).filter((o) => o.paymentIntentId !== null);
    const results: ReconcileOutcome[] = [];
    for (const order of orders) {
      if (deps.signal?.aborted) break;
      results.push(await reconcileOrder(deps, order).catch((error: unknown) => {
        deps.logger.warn({ err: error, orderId: order.orderId, paymentIntentId: order.paymentIntentId }, 'reconciliation: order left pending, will retry next run');
        return 'failed' as const;
      }));
    }
    return countOutcomes(outcomes, results);
  });
  return run.ran ? run.result : { skipped: true };
}

async function reconcileOrder(deps: JobDeps, order: PendingOrder): Promise<ReconcileOutcome> {
  const paymentIntent = await retrievePaymentIntent(deps, order.paymentIntentId!);
  const applied = await applyPaymentIntentState(deps.pool, paymentIntent);
  if (!applied || applied.outcome !== 'applied') {
    if (applied?.outcome === 'anomaly') {
      deps.logger.warn({ orderId: order.orderId, paymentIntentId: paymentIntent.id, anomaly: applied.anomaly }, 'reconciliation: payment anomaly recorded');
      return 'anomaly';
    }
    return 'unchanged';
  }
  deps.logger.info({ orderId: order.orderId, paymentIntentId: paymentIntent.id, status: paymentIntent.status }, 'reconciliation: applied a missed PaymentIntent state');
  return paymentIntent.status === 'succeeded' ? 'confirmed' : 'cancelled';
}
