// Runs a leg's load in a process of its own and returns its result: wrk where installed for the
// closed-loop legs (bench/wrk-load.ts), else bench/http-load-process.ts (autocannon; undici at a
// fixed rate). BENCH_LOAD_GENERATOR=autocannon chooses autocannon even where wrk is; =wrk requires wrk.
import { spawn } from 'node:child_process';
import { findWrk, runWrkLoad } from './wrk-load.ts';

export type CheckoutOrder = { orderId: string; paymentIntentId: string; amountTotal: number };

export type HttpLoadSpec = {
  kind: 'checkout' | 'webhook';
  url: string;
  connections: number;
  /** Stop after this many requests (webhooks: at most one per order in `ordersIn`)… */
  amount?: number;
  /** …or after this long. */
  durationSeconds?: number;
  /** Requests per second, sent open loop at even intervals (bench/http-load-process.ts); unset: as fast as answered. */
  rate?: number;
  /** checkout: where to write the orders created; webhook: the orders to confirm. */
  ordersOut?: string;
  ordersIn?: string;
  webhookSecret?: string;
  /** webhook: the simulator whose PaymentIntent shape the events carry. */
  simulatorUrl?: string;
};

export type HttpLoadResult = {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  statuses: Record<string, number>;
  /** Answers other than the one expected (201 created; 200 applied). */
  unexpected: number;
  errors: number;
  timeouts: number;
  orders: number;
  /** The load generator's own CPU (user + system) over the run, ms. */
  cpuMs: number;
  generator: 'wrk' | 'autocannon' | 'undici';
};

const script = new URL('./http-load-process.ts', import.meta.url).pathname;

export async function runHttpLoad(spec: HttpLoadSpec): Promise<HttpLoadResult> {
  const wrk = spec.rate === undefined ? loadGenerator() : undefined;
  const result = wrk ? await runWrkLoad(spec, wrk) : await runHttpLoadProcess(spec);
  if (result.unexpected > 0 || result.errors > 0) {
    throw new Error(`${spec.kind} load: ${result.unexpected} unexpected answers, ${result.errors} errors (${JSON.stringify(result.statuses)})`);
  }
  return result;
}

/** wrk's path when the closed-loop legs use it. */
function loadGenerator(): string | undefined {
  const chosen = process.env.BENCH_LOAD_GENERATOR;
  if (chosen === 'autocannon') return undefined;
  const wrk = findWrk();
  if (chosen === 'wrk' && !wrk) throw new Error('BENCH_LOAD_GENERATOR=wrk, but there is no wrk on PATH (Debian: apt-get install wrk)');
  if (chosen !== undefined && chosen !== 'wrk') throw new Error(`BENCH_LOAD_GENERATOR must be wrk or autocannon, got ${chosen}`);
  return wrk;
}

async function runHttpLoadProcess(spec: HttpLoadSpec): Promise<HttpLoadResult> {
  const child = spawn(process.execPath, [script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load generator exited with ${code}`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as HttpLoadResult;
}
