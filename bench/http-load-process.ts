// The HTTP load generator, in a process of its own so that its CPU is not the service's: autocannon
// (https://github.com/mcollina/autocannon) driving POST /checkout with a new Idempotency-Key per
// request, or POST /webhooks/stripe with one signed payment_intent.succeeded per order of an earlier
// checkout run. Run by bench/http-load.ts with the spec as JSON in argv[2]; prints the result as JSON.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import Stripe from 'stripe';
import type { CheckoutOrder, HttpLoadResult, HttpLoadSpec } from './http-load.ts';
import { percentile } from './stats.ts';

const spec = JSON.parse(process.argv[2]!) as HttpLoadSpec;
const basket = JSON.stringify({ customerId: 'bench', items: [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }, { sku: 'BANANAS-1KG', quantity: 3 }] });

/**
 * One signed event per order, made before the clock starts (Stripe's tolerance is 300 s: ample). The
 * object is the simulator's own PaymentIntent (Stripe's full shape, ~1.5 KB), as succeeded.
 */
async function signedEvents(orders: CheckoutOrder[], secret: string, simulatorUrl: string): Promise<Array<{ body: string; signature: string }>> {
  const stripe = new Stripe('sk_test_bench', { host: new URL(simulatorUrl).hostname, port: Number(new URL(simulatorUrl).port), protocol: 'http' });
  const template = await stripe.paymentIntents.retrieve(orders[0]!.paymentIntentId);
  const created = Math.floor(Date.now() / 1000);
  return orders.map((order, i) => {
    const body = JSON.stringify({
      id: `evt_bench_${order.orderId.replaceAll('-', '')}`, object: 'event', type: 'payment_intent.succeeded', livemode: false, created,
      api_version: template.lastResponse.apiVersion ?? null, pending_webhooks: 1, request: { id: null, idempotency_key: null },
      data: {
        object: {
          ...template, lastResponse: undefined, id: order.paymentIntentId, amount: order.amountTotal, amount_received: order.amountTotal,
          status: 'succeeded', latest_charge: `ch_bench${i}`, client_secret: `${order.paymentIntentId}_secret_bench`, metadata: { order_id: order.orderId },
        },
      },
    });
    return { body, signature: stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: created }) };
  });
}

const orders: CheckoutOrder[] = [];
const statuses: Record<string, number> = {};
let unexpected = 0;
let requestOptions: autocannon.Request;
let amount = spec.amount;

if (spec.kind === 'checkout') {
  requestOptions = {
    method: 'POST', path: '/checkout',
    headers: { 'content-type': 'application/json' },
    body: basket,
    setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': randomUUID() } }),
    onResponse: (status, body) => {
      if (status !== 201) return void unexpected++;
      const { orderId, paymentIntentId, amountTotal } = JSON.parse(body) as CheckoutOrder;
      orders.push({ orderId, paymentIntentId, amountTotal });
    },
  };
} else {
  const events = await signedEvents(JSON.parse(readFileSync(spec.ordersIn!, 'utf8')) as CheckoutOrder[], spec.webhookSecret!, spec.simulatorUrl!);
  amount = Math.min(amount ?? events.length, events.length);
  let next = 0;
  requestOptions = {
    method: 'POST', path: '/webhooks/stripe',
    headers: { 'content-type': 'application/json' },
    setupRequest: (request) => {
      const event = events[next++ % events.length]!;
      return { ...request, body: event.body, headers: { ...request.headers, 'stripe-signature': event.signature } };
    },
    onResponse: (status, body) => {
      if (status !== 200 || (JSON.parse(body) as { outcome: string }).outcome !== 'applied') unexpected++;
    },
  };
}

const latencies: number[] = [];
const started = performance.now();
const cpuBefore = process.cpuUsage();
let finish: (result: autocannon.Result) => void = () => {};
const finished = new Promise<autocannon.Result>((resolve) => (finish = resolve));
const instance = autocannon({
  url: spec.url,
  connections: spec.connections,
  ...(amount !== undefined ? { amount } : { duration: spec.durationSeconds }),
  ...(spec.rate !== undefined && { overallRate: spec.rate }),
  timeout: 30,
  requests: [requestOptions],
}, (error, result) => {
  if (error) throw error;
  finish(result);
});
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  latencies.push(responseTime);
});
const done = await finished;
const seconds = (performance.now() - started) / 1000;
if (spec.ordersOut) writeFileSync(spec.ordersOut, JSON.stringify(orders));
latencies.sort((a, b) => a - b);
const result: HttpLoadResult = {
  requests: latencies.length, seconds, perSecond: latencies.length / seconds,
  p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99),
  statuses, unexpected, errors: done.errors, timeouts: done.timeouts, orders: orders.length,
  cpuMs: ((cpu) => (cpu.user + cpu.system) / 1000)(process.cpuUsage(cpuBefore)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
