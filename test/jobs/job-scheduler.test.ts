// The timer loop: runs the jobs, never two runs at once, logs one line per run, stops cleanly.
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { jobMetrics } from '../../src/jobs/job-metrics.ts';
import { startJobScheduler } from '../../src/jobs/job-scheduler.ts';
import type { JobRun } from '../../src/jobs/job-run.ts';
import { createOrder } from '../support/orders.ts';
import { request, startTestService, type TestService } from '../support/service.ts';
import { historyOf, orderRow, waitUntil } from '../support/stripe-events.ts';

function capturingLogger() {
  const lines: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const done: JobRun<'done'> = { skipped: false, examined: 1, outcomes: { done: 1 } };

describe('startJobScheduler', () => {
  it('runs the jobs in order, one run at a time, with one log line per run', async () => {
    const { logger, lines } = capturingLogger();
    const calls: string[] = [];
    let active = 0;
    let maxActive = 0;
    const job = (name: string) => ({
      name,
      run: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        calls.push(name);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active -= 1;
        return done;
      },
    });
    const scheduler = startJobScheduler({ intervalMs: 1, jobs: [job('first'), job('second')], logger });
    for (let i = 0; i < 3; i++) await scheduler.nextRun();
    await scheduler.stop();

    expect(calls.slice(0, 6)).toEqual(['first', 'second', 'first', 'second', 'first', 'second']);
    expect(maxActive).toBe(1);
    const runLines = lines.filter((l) => l.msg === 'background jobs ran');
    expect(runLines.length).toBeGreaterThanOrEqual(3);
    expect(runLines[0]).toMatchObject({ level: 30, jobs: { first: done, second: done } });
  });

  it('stop() waits for the run in flight, which sees the abort, and no run starts after it', async () => {
    const { logger } = capturingLogger();
    const started = deferred();
    const release = deferred();
    let runs = 0;
    let sawAbort = false;
    const scheduler = startJobScheduler({
      intervalMs: 1,
      logger,
      jobs: [{
        name: 'slow',
        run: async (signal) => {
          runs += 1;
          started.resolve();
          await release.promise;
          sawAbort = signal.aborted;
          return done;
        },
      }],
    });
    await started.promise;
    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(sawAbort).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(1);
  });

  it('a job that throws is logged (warn) and the next job and next run still happen', async () => {
    const { logger, lines } = capturingLogger();
    let second = 0;
    const scheduler = startJobScheduler({
      intervalMs: 1,
      logger,
      jobs: [
        { name: 'broken', run: async () => { throw new Error('database is down'); } },
        { name: 'fine', run: async () => { second += 1; return done; } },
      ],
    });
    await scheduler.nextRun();
    await scheduler.nextRun();
    await scheduler.stop();
    expect(second).toBeGreaterThanOrEqual(2);
    expect(lines.find((l) => l.msg === 'background jobs ran')).toMatchObject({ level: 40, jobs: { broken: { error: 'database is down' }, fine: done } });
  });
});

describe('jobMetrics', () => {
  it('counts runs by result and orders by outcome, and keeps the last run\'s time, duration and outcomes', async () => {
    const registry = new Registry();
    const observe = jobMetrics(registry);
    observe('expiry', { run: { skipped: false, examined: 3, outcomes: { expired: 2, failed: 1 } } }, 0.25);
    observe('expiry', { run: { skipped: false, examined: 1, outcomes: { expired: 1, failed: 0 } } }, 0.5);
    observe('expiry', { run: { skipped: true } }, 0.01);
    observe('expiry', { error: new Error('database is down') }, 0.02);
    const text = await registry.metrics();
    for (const line of [
      'checkout_job_runs_total{job="expiry",result="completed"} 2',
      'checkout_job_runs_total{job="expiry",result="skipped"} 1',
      'checkout_job_runs_total{job="expiry",result="failed"} 1',
      'checkout_job_orders_total{job="expiry",outcome="expired"} 3',
      'checkout_job_orders_total{job="expiry",outcome="failed"} 1',
      'checkout_job_last_run_orders{job="expiry",outcome="expired"} 1',
      'checkout_job_last_run_orders{job="expiry",outcome="failed"} 0',
      'checkout_job_last_run_duration_seconds{job="expiry"} 0.02',
    ]) expect(text.split('\n')).toContain(line);
    expect(text).toMatch(/^checkout_job_last_run_timestamp_seconds\{job="expiry",result="failed"\} \d+/m);
  });
});

describe('in the service', () => {
  let service: TestService | undefined;
  afterAll(async () => service?.stop());

  it('JOBS_INTERVAL_SECONDS > 0 starts the jobs after listening; close() stops them', async () => {
    service = await startTestService({ JOBS_INTERVAL_SECONDS: '1', ORDER_EXPIRE_AFTER_SECONDS: '0', PAYMENT_RECONCILE_AFTER_SECONDS: '0' });
    const { orderId } = await createOrder(service.db.app);
    await waitUntil('the scheduler expired the order', async () => (await orderRow(service!.db.admin, orderId)).status === 'EXPIRED');
    expect((await historyOf(service.db.admin, orderId)).at(-1)).toMatchObject({ to_status: 'EXPIRED', source: 'expiry_job' });
    // The order is EXPIRED when the job commits; the run's log line (and its metrics) come after the run.
    const expiringRun = () => service!.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'background jobs ran' && l.jobs.expireAbandonedOrders?.outcomes?.expired === 1);
    await waitUntil('the run that expired the order is logged', () => expiringRun() !== undefined);
    const runLine = expiringRun();
    expect(runLine).toMatchObject({ jobs: { reconcilePendingPayments: { skipped: false }, expireAbandonedOrders: { examined: 1 } } });
    const metrics = (await request(service, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/^checkout_job_runs_total\{job="expireAbandonedOrders",result="completed"\} [1-9]/m);
    expect(metrics).toMatch(/^checkout_job_orders_total\{job="expireAbandonedOrders",outcome="expired"\} 1$/m);
    expect(metrics).toMatch(/^checkout_job_last_run_timestamp_seconds\{job="reconcilePendingPayments",result="completed"\} \d/m);
    expect(metrics).toMatch(/^checkout_job_last_run_duration_seconds\{job="expireAbandonedOrders"\} \d/m);

    const running = service;
    service = undefined;
    await running.stop();
    const linesAtStop = running.logs.length;
    // Longer than the interval: a scheduler still running would log (a failing) run here.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(running.logs.slice(linesAtStop)).toEqual([]);
  });
});

describe('configuration', () => {
  const base = { DATABASE_URL: 'postgres://localhost/checkout' };

  it('defaults: every 60 s, reconcile after 600 s, expire after 3600 s, at most 100 orders a run', () => {
    expect(loadConfig(base)).toMatchObject({
      JOBS_INTERVAL_SECONDS: 60, PAYMENT_RECONCILE_AFTER_SECONDS: 600, ORDER_EXPIRE_AFTER_SECONDS: 3600, JOBS_BATCH_SIZE: 100,
    });
  });

  it.each(['JOBS_INTERVAL_SECONDS', 'ORDER_EXPIRE_AFTER_SECONDS', 'PAYMENT_RECONCILE_AFTER_SECONDS', 'JOBS_BATCH_SIZE'])('an invalid %s fails naming the variable', (name) => {
    expect(() => loadConfig({ ...base, [name]: '-1' })).toThrow(new RegExp(`${name}:`));
    expect(() => loadConfig({ ...base, [name]: 'soon' })).toThrow(ConfigError);
  });

  it('jobs need a second pooled connection (one holds the advisory lock)', () => {
    expect(() => loadConfig({ ...base, DATABASE_POOL_SIZE: '1' })).toThrow(/DATABASE_POOL_SIZE: must be at least 2/);
    expect(loadConfig({ ...base, DATABASE_POOL_SIZE: '1', JOBS_INTERVAL_SECONDS: '0' }).JOBS_INTERVAL_SECONDS).toBe(0);
  });
});
