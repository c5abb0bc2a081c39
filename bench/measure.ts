// One measured leg: a load against the service process, with what each process of the machine
// spent on it (CPU from /proc before and after) and the service's RSS sampled throughout.
import { runHttpLoad, type HttpLoadResult, type HttpLoadSpec } from './http-load.ts';
import { cpuMs, sampleRss, type BenchProcess } from './processes.ts';

export type Leg = HttpLoadResult & {
  /** Service CPU (user + system, all threads) per request answered, ms. */
  cpuMsPerRequest: number;
  /** The same for the other processes watched (simulator, PostgreSQL, load generator). */
  otherCpuMsPerRequest: Record<string, number>;
  /** Service RSS, MiB: the largest sample and the last. */
  rssMaxMiB: number;
  rssEndMiB: number;
};

/** CPU counters (ms) of other processes on the machine, by name. */
export type CpuCounters = Record<string, () => number>;

export async function measure(service: BenchProcess, spec: Omit<HttpLoadSpec, 'url'>, others: CpuCounters = {}): Promise<Leg> {
  const rss = sampleRss(service.pid);
  const before = Object.fromEntries(Object.entries(others).map(([name, read]) => [name, read()]));
  const cpuBefore = cpuMs(service.pid);
  // A failed leg stops the sampling too: a sampler left running would throw once the run's clean-up
  // has stopped the service (or the service is what failed), in place of the leg's own error.
  const result = await runHttpLoad({ ...spec, url: service.url }).catch((error: unknown) => {
    rss.cancel();
    throw error;
  });
  const cpu = cpuMs(service.pid) - cpuBefore;
  const otherCpuMsPerRequest = Object.fromEntries(Object.entries(others).map(([name, read]) => [name, (read() - before[name]!) / result.requests]));
  otherCpuMsPerRequest['load generator'] = result.cpuMs / result.requests;
  const samples = rss.stop();
  return {
    ...result,
    cpuMsPerRequest: cpu / result.requests,
    otherCpuMsPerRequest,
    rssMaxMiB: Math.max(...samples.map((s) => s.mib)),
    rssEndMiB: samples.at(-1)!.mib,
  };
}
