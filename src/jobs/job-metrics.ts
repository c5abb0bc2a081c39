import { Counter, Gauge, type Registry } from 'prom-client';
import type { JobObserver } from './job-scheduler.ts';

/**
 * /metrics for the background jobs: runs by result, orders by outcome (each job's closed set, from
 * its JobRun), and gauges for the last run, so "has the expiry job completed lately?" and "what did
 * it do?" are one query each.
 */
export function jobMetrics(registry: Registry): JobObserver {
  const runs = new Counter({
    name: 'checkout_job_runs_total',
    help: 'Background job runs by result: completed, skipped (another instance held the lock), failed (the job threw, e.g. database down).',
    labelNames: ['job', 'result'] as const, registers: [registry],
  });
  const orders = new Counter({
    name: 'checkout_job_orders_total', help: 'Orders examined by background jobs, by job and outcome.',
    labelNames: ['job', 'outcome'] as const, registers: [registry],
  });
  const lastRun = new Gauge({
    name: 'checkout_job_last_run_timestamp_seconds', help: 'When the job last finished a run with this result (Unix time).',
    labelNames: ['job', 'result'] as const, registers: [registry],
  });
  const lastDuration = new Gauge({
    name: 'checkout_job_last_run_duration_seconds', help: 'How long the job\'s last run took.',
    labelNames: ['job'] as const, registers: [registry],
  });
  const lastOrders = new Gauge({
    name: 'checkout_job_last_run_orders', help: 'Orders the job\'s last completed run examined, by outcome.',
    labelNames: ['job', 'outcome'] as const, registers: [registry],
  });
  return (job, finished, durationSeconds) => {
    const result = 'error' in finished ? 'failed' : finished.run.skipped ? 'skipped' : 'completed';
    runs.inc({ job, result });
    lastRun.set({ job, result }, Date.now() / 1000);
    lastDuration.set({ job }, durationSeconds);
    if ('run' in finished && !finished.run.skipped) {
      for (const [outcome, count] of Object.entries(finished.run.outcomes)) {
        orders.inc({ job, outcome }, count);
        lastOrders.set({ job, outcome }, count);
      }
    }
  };
}
