import type { Registry } from 'prom-client';
import { expiryClaimSeconds } from '../checkout/checkout-lease.ts';
import { expireAbandonedOrders } from './expire-abandoned-orders.ts';
import { jobMetrics } from './job-metrics.ts';
import { startJobScheduler, type JobScheduler } from './job-scheduler.ts';
import { purgeOldOutboxEvents } from './purge-outbox.ts';
import { reconcilePendingPayments } from './reconcile-pending-payments.ts';
import { sweepOrphanPaymentIntents, type SweepDeps } from './sweep-orphan-payment-intents.ts';

export type PendingOrderJobsConfig = {
  JOBS_INTERVAL_SECONDS: number;
  JOBS_BATCH_SIZE: number;
  ORDER_EXPIRE_AFTER_SECONDS: number;
  PAYMENT_RECONCILE_AFTER_SECONDS: number;
  PAYMENT_INTENT_SWEEP_AFTER_SECONDS: number;
  STRIPE_TIMEOUT_MS: number;
  OUTBOX_RETENTION_DAYS: number;
};

/**
 * The service's background jobs. Reconciliation runs first, so a payment whose webhook was missed is
 * confirmed before the expiry job looks at its order (expiry would confirm it too, one Stripe call later);
 * then the sweep of PaymentIntents that failed checkout attempts left (orders just expired become due
 * after its allowance); then the outbox retention.
 */
export function startPendingOrderJobs(
  deps: Omit<SweepDeps, 'signal'> & { metricsRegistry: Registry }, config: PendingOrderJobsConfig,
): JobScheduler {
  const batchSize = config.JOBS_BATCH_SIZE;
  return startJobScheduler({
    intervalMs: config.JOBS_INTERVAL_SECONDS * 1000,
    logger: deps.logger,
    observe: jobMetrics(deps.metricsRegistry),
    jobs: [
      {
        name: 'reconcilePendingPayments',
        run: (signal) => reconcilePendingPayments({ ...deps, signal }, { olderThanSeconds: config.PAYMENT_RECONCILE_AFTER_SECONDS, batchSize }),
      },
      {
        name: 'expireAbandonedOrders',
        run: (signal) => expireAbandonedOrders({ ...deps, signal }, {
          olderThanSeconds: config.ORDER_EXPIRE_AFTER_SECONDS, batchSize, claimSeconds: expiryClaimSeconds(config.STRIPE_TIMEOUT_MS),
        }),
      },
      {
        name: 'sweepOrphanPaymentIntents',
        run: (signal) => sweepOrphanPaymentIntents({ ...deps, signal }, { afterSeconds: config.PAYMENT_INTENT_SWEEP_AFTER_SECONDS, batchSize }),
      },
      { name: 'purgeOldOutboxEvents', run: () => purgeOldOutboxEvents(deps, { retentionDays: config.OUTBOX_RETENTION_DAYS }) },
    ],
  });
}
