// `npm run bench`: latency and throughput of the two hot paths against a real PostgreSQL and the
// Stripe simulator, on this machine only (loopback). Goals are printed beside the results; with
// --check the run fails when one is missed. Bounded: a fixed number of requests, then it stops.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import Stripe from 'stripe';
import { loadConfig } from '../src/config.ts';
import { startService } from '../src/server.ts';
import { createBenchDatabase, runLoad } from './load.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    check: { type: 'boolean', default: false },
  },
});
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);

/**
 * What one 2-core machine should sustain with the service, the simulator and this load generator
 * sharing one Node process (README "Benchmarks"): a grocery peak is tens of checkouts a second.
 */
const goals = { checkoutP95Ms: 150, checkoutPerSecond: 150, webhookP95Ms: 50, webhookPerSecond: 400, rssMiB: 400 };

const database = await createBenchDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'checkout-bench-'));
try {
  const config = loadConfig({
    DATABASE_URL: database.serviceUrl, PORT: '0', STRIPE_SIMULATOR_PORT: '0', DATA_DIR: dataDir, DATABASE_POOL_SIZE: '20', JOBS_INTERVAL_SECONDS: '0',
  });
  const service = await startService(config, pino({ level: 'silent' }));
  service.simulator!.setWebhookUrl(undefined); // webhooks are measured on their own below
  try {
    const items = [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }, { sku: 'BANANAS-1KG', quantity: 3 }];
    const orders: Array<{ orderId: string; paymentIntentId: string; amountTotal: number }> = [];
    const checkout = await runLoad(requests, concurrency, async () => {
      const response = await fetch(`${service.url}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ customerId: 'bench', items }),
      });
      if (response.status !== 201) throw new Error(`checkout answered ${response.status}`);
      orders.push((await response.json()) as (typeof orders)[number]);
    });

    const signer = new Stripe('sk_test_bench');
    const webhook = await runLoad(orders.length, concurrency, async (i) => {
      const order = orders[i]!;
      const payload = JSON.stringify({
        id: `evt_bench_${i}`, object: 'event', type: 'payment_intent.succeeded', livemode: false, created: Math.floor(Date.now() / 1000),
        data: { object: { id: order.paymentIntentId, object: 'payment_intent', amount: order.amountTotal, amount_received: order.amountTotal, currency: 'nzd', status: 'succeeded', metadata: { order_id: order.orderId } } },
      });
      const response = await fetch(`${service.url}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signer.webhooks.generateTestHeaderString({ payload, secret: service.webhookSecret }) },
        body: payload,
      });
      if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
      await response.arrayBuffer();
    });
    const rssMiB = process.memoryUsage().rss / 2 ** 20;

    const rows = [
      ['POST /checkout (PaymentIntent at the simulator)', checkout, goals.checkoutP95Ms, goals.checkoutPerSecond],
      ['POST /webhooks/stripe (confirm + outbox row)', webhook, goals.webhookP95Ms, goals.webhookPerSecond],
    ] as const;
    console.log(`${requests} requests each, ${concurrency} at a time, PostgreSQL ${database.server}`);
    const missed: string[] = [];
    for (const [name, r, p95Goal, rateGoal] of rows) {
      console.log(`${name}: ${r.perSecond.toFixed(0)}/s (goal >= ${rateGoal}), p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms (goal <= ${p95Goal}), p99 ${r.p99.toFixed(1)} ms`);
      if (r.p95 > p95Goal || r.perSecond < rateGoal) missed.push(name);
    }
    console.log(`resident memory (service, simulator and load generator in one process): ${rssMiB.toFixed(0)} MiB (goal <= ${goals.rssMiB})`);
    if (rssMiB > goals.rssMiB) missed.push('memory');
    if (missed.length) console.log(`goals missed: ${missed.join(', ')}`);
    if (args.check && missed.length) process.exitCode = 1;
  } finally {
    await service.close();
  }
} finally {
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
