import { purgeOutbox } from '../db/checkout-functions.ts';
import type { JobDeps } from './job-deps.ts';
import type { JobRun } from './job-run.ts';
import { runExclusively } from './run-exclusively.ts';

export type PurgeOutcome = 'deletedEvents' | 'deletedHeartbeats';

/**
 * Outbox retention: deletes events older than `retentionDays` that the replication slot has passed
 * (checkout.purge_outbox decides, in SQL), and Debezium's heartbeat rows. Deletes are not published.
 * One instance at a time; it has its own lock, as it touches no pending order.
 */
export async function purgeOldOutboxEvents(deps: Pick<JobDeps, 'pool' | 'logger'>, options: { retentionDays: number }): Promise<JobRun<PurgeOutcome>> {
  const run = await runExclusively(deps.pool, 'outbox-retention', () => purgeOutbox(deps.pool, options.retentionDays));
  if (!run.ran) return { skipped: true };
  const { deletedEvents, deletedHeartbeats, slotFound } = run.result;
  if (!slotFound) deps.logger.warn('outbox retention: no replication slot checkout_outbox in this database, nothing deleted (is the connector registered?)');
  return { skipped: false, examined: deletedEvents + deletedHeartbeats, outcomes: { deletedEvents, deletedHeartbeats } };
}
