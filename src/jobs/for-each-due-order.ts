import Stripe from 'stripe';
import { recordOrderCheck } from '../db/job-functions.ts';
import type { JobDeps } from './job-deps.ts';
import { countOutcomes, type JobRun } from './job-run.ts';
import { pendingOrdersLock } from './pending-orders-lock.ts';
import { runExclusively } from './run-exclusively.ts';

/**
 * One run of a pending-order job: under the jobs' advisory lock, lists the orders due (a bounded
 * batch, chosen in SQL) and examines them one at a time until the list ends or shutdown begins. An
 * order whose examination throws is logged, counted as failed and left for a later run; when Stripe
 * was what failed, the job's back-off (record_order_check unless it has its own) backs the order off,
 * so a PaymentIntent Stripe keeps failing on costs fewer and fewer calls.
 */
export async function forEachDueOrder<Order extends { orderId: string; paymentIntentId: string | null }, Outcome extends string>(
  deps: JobDeps,
  job: {
    name: string;
    outcomes: readonly Outcome[];
    list: () => Promise<readonly Order[]>;
    examine: (order: Order) => Promise<Outcome>;
    recordStripeFailure?: (orderId: string) => Promise<unknown>;
  },
): Promise<JobRun<Outcome | 'failed'>> {
  const recordStripeFailure = job.recordStripeFailure ?? ((orderId: string) => recordOrderCheck(deps.pool, orderId, true));
  const run = await runExclusively(deps.pool, pendingOrdersLock, async () => {
    const orders = await job.list();
    const results: Array<Outcome | 'failed'> = [];
    for (const order of orders) {
      if (deps.signal?.aborted) break;
      results.push(await job.examine(order).catch(async (error: unknown) => {
        const context = { err: error, orderId: order.orderId, paymentIntentId: order.paymentIntentId };
        deps.logger.warn(context, `${job.name}: order left as it is, to be looked at again on a later run`);
        if (error instanceof Stripe.errors.StripeError) {
          await recordStripeFailure(order.orderId).catch((recordError: unknown) =>
            deps.logger.warn({ ...context, err: recordError }, `${job.name}: could not record the failed check`));
        }
        return 'failed' as const;
      }));
    }
    return countOutcomes([...job.outcomes, 'failed'], results);
  });
  return run.ran ? run.result : { skipped: true };
}
