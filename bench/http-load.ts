// Runs bench/http-load-process.ts (autocannon, or undici at a fixed rate) in a process of its own and returns its result.
import { spawn } from 'node:child_process';

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
};

const script = new URL('./http-load-process.ts', import.meta.url).pathname;

export async function runHttpLoad(spec: HttpLoadSpec): Promise<HttpLoadResult> {
  const child = spawn(process.execPath, [script, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load generator exited with ${code}`);
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as HttpLoadResult;
  if (result.unexpected > 0 || result.errors > 0) {
    throw new Error(`${spec.kind} load: ${result.unexpected} unexpected answers, ${result.errors} errors (${JSON.stringify(result.statuses)})`);
  }
  return result;
}
