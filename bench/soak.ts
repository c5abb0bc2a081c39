// `--soak <seconds>`: the service under half its peak for that long, in rounds of checkouts then the
// webhooks that pay them, with its RSS sampled throughout: is it flat (issue 12: "no growth")?
import { join } from 'node:path';
import { runHttpLoad } from './http-load.ts';
import { sampleRss, type BenchProcess } from './processes.ts';
import { slope } from './stats.ts';

export type Soak = { seconds: number; rounds: number; startMiB: number; endMiB: number; maxMiB: number; growthMiBPer10Min: number };

export async function runSoak(service: BenchProcess, options: {
  seconds: number; connections: number; checkoutRate: number; webhookRate: number; webhookSecret: string; simulatorUrl: string; dir: string;
}): Promise<Soak> {
  const rss = sampleRss(service.pid, 5_000);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const orders = join(options.dir, 'soak.orders.json');
  let rounds = 0;
  while (elapsed() < options.seconds) {
    const roundSeconds = Math.max(1, Math.min(30, Math.ceil(options.seconds - elapsed())));
    await runHttpLoad({ kind: 'checkout', url: service.url, connections: options.connections, durationSeconds: roundSeconds, rate: Math.round(options.checkoutRate), ordersOut: orders });
    await runHttpLoad({ kind: 'webhook', url: service.url, connections: options.connections, rate: Math.round(options.webhookRate), ordersIn: orders, webhookSecret: options.webhookSecret, simulatorUrl: options.simulatorUrl });
    rounds += 1;
  }
  const samples = rss.stop();
  // The first minute holds the warm-up (JIT, pools, caches filling): growth is what comes after it.
  const settled = samples.filter((s) => s.at >= 60);
  // NaN (not judged) when the soak is too short to leave two samples after its first minute.
  const perSecond = slope(settled.map((s) => ({ x: s.at, y: s.mib })));
  return {
    seconds: elapsed(), rounds,
    startMiB: samples[0]!.mib, endMiB: samples.at(-1)!.mib, maxMiB: Math.max(...samples.map((s) => s.mib)),
    growthMiBPer10Min: perSecond * 600,
  };
}
