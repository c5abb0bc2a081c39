import type { Logger } from '../log.ts';
import type { JobRun } from './job-run.ts';

export type ScheduledJob = { name: string; run: (signal: AbortSignal) => Promise<JobRun<string>> };

/** Told about every run of every job, e.g. by jobMetrics (src/jobs/job-metrics.ts). */
export type JobObserver = (job: string, finished: { run: JobRun<string> } | { error: unknown }, durationSeconds: number) => void;

export type JobScheduler = {
  /** Resolves after the run in progress (if any) has finished; no run starts after it is called. */
  stop(): Promise<void>;
  /** Resolves when the next run has finished (for tests and diagnostics). */
  nextRun(): Promise<void>;
};

/**
 * Runs `jobs` one after the other every `intervalMs`, timed from the end of the previous run so that
 * runs never overlap in one process (across processes, the jobs guard themselves with an advisory
 * lock). One log line per run, with what each job did.
 */
export function startJobScheduler(options: {
  intervalMs: number; jobs: readonly ScheduledJob[]; logger: Logger; observe?: JobObserver;
}): JobScheduler {
  const { intervalMs, jobs, logger, observe = () => {} } = options;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const waiters: Array<() => void> = [];

  const runOnce = async () => {
    const started = Date.now();
    const results: Record<string, unknown> = {};
    let failed = false;
    for (const job of jobs) {
      if (stopping.signal.aborted) break;
      const jobStarted = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - jobStarted) / 1e9;
      try {
        const run = await job.run(stopping.signal);
        results[job.name] = run;
        observe(job.name, { run }, seconds());
      } catch (error) {
        // e.g. the database is down: the whole job waits for the next run.
        failed = true;
        results[job.name] = { error: error instanceof Error ? error.message : String(error) };
        observe(job.name, { error }, seconds());
      }
    }
    logger[failed ? 'warn' : 'info']({ jobs: results, durationMs: Date.now() - started }, 'background jobs ran');
  };

  const schedule = () => {
    timer = setTimeout(() => {
      running = runOnce().finally(() => {
        running = undefined;
        for (const resolve of waiters.splice(0)) resolve();
        if (!stopping.signal.aborted) schedule();
      });
    }, intervalMs);
    // The HTTP server keeps the process alive; a pending job timer should not.
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await running;
      for (const resolve of waiters.splice(0)) resolve();
    },
    nextRun: () => (stopping.signal.aborted ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
  };
}
