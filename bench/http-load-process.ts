// The HTTP load generator in Node (where wrk does not drive the leg: bench/http-load.ts), in a
// process of its own so that its CPU is not the service's: POST /checkout with a new
// Idempotency-Key per request, or POST /webhooks/stripe with one signed payment_intent.succeeded
// per order of an earlier checkout run (bench/load-exchanges.ts). Two ways to drive it:
// - as fast as answered (no `rate`): autocannon (https://github.com/mcollina/autocannon), closed
//   loop, each connection sending its next request when the last is answered;
// - at a fixed rate: open loop, request i sent at start + i / rate whether or not earlier ones were
//   answered, through an undici Pool of `connections` keep-alive connections (requests wait in its
//   queue when all are busy), latency counted from the moment the request was due. autocannon's own
//   rate limit (overallRate) lets each connection send its quota for the second back to back and
//   then wait for the next second: the load arrives in bursts at the peak's concurrency, and the
//   latency measured is the peak's, not the rate's. Counting from the due time, not the send, keeps
//   a stalled service from hiding its stall (wrk2's "coordinated omission").
// Run by bench/http-load.ts with the spec as JSON in argv[2]; prints the result as JSON.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import type { CheckoutOrder, HttpLoadResult, HttpLoadSpec } from './http-load.ts';
import { Answers, checkoutBody, signedEvents } from './load-exchanges.ts';
import { percentile } from './stats.ts';

const spec = JSON.parse(process.argv[2]!) as HttpLoadSpec;
const answers = new Answers(spec.kind);
const latencies: number[] = [];

/** What one request sends. */
type Exchange = { headers: Record<string, string>; body: string };
let path: string;
let nextExchange: () => Exchange;
let amount = spec.amount;

if (spec.kind === 'checkout') {
  path = '/checkout';
  nextExchange = () => ({ headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: checkoutBody });
} else {
  const events = await signedEvents(JSON.parse(readFileSync(spec.ordersIn!, 'utf8')) as CheckoutOrder[], spec.webhookSecret!, spec.simulatorUrl!);
  amount = Math.min(amount ?? events.length, events.length);
  let next = 0;
  path = '/webhooks/stripe';
  nextExchange = () => {
    const event = events[next++ % events.length]!;
    return { headers: { 'content-type': 'application/json', 'stripe-signature': event.signature }, body: event.body };
  };
}

/**
 * When the last answer arrived: the leg's end. autocannon calls back only at its next whole-second
 * tick, so with `amount` its end came up to a second after the last answer (measured: 20,000
 * answers by 0.44 s, the callback at 1.01 s), and a 10 s leg read up to 10 % slow.
 */
let lastAnsweredAt = 0;
const answered = (status: number, body: string) => {
  lastAnsweredAt = performance.now();
  answers.add(status, body);
};

/** Closed loop, as fast as answered: autocannon, with its own count of errors and timeouts. */
function asFastAsAnswered(): Promise<{ errors: number; timeouts: number }> {
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: spec.url, connections: spec.connections,
      ...(amount !== undefined ? { amount } : { duration: spec.durationSeconds }),
      timeout: 30,
      requests: [{
        method: 'POST', path,
        setupRequest: (request) => {
          const exchange = nextExchange();
          return { ...request, body: exchange.body, headers: { ...request.headers, ...exchange.headers } };
        },
        onResponse: (status, body) => answered(status, body),
      }],
    }, (error, result) => (error ? reject(error) : resolve({ errors: result.errors, timeouts: result.timeouts })));
    instance.on('response', (_client, _status, _bytes, responseTime) => void latencies.push(responseTime));
  });
}

/**
 * Open loop at `rate`/s: request i is due at start + i / rate; it is handed to the pool then (or at
 * once if the timer woke late), and its latency runs from when it was due to its answer's last byte.
 */
async function atFixedRate(rate: number): Promise<{ errors: number; timeouts: number }> {
  const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const total = amount ?? Math.round(rate * spec.durationSeconds!);
  const intervalMs = 1000 / rate;
  let errors = 0;
  let timeouts = 0;
  const inFlight = new Set<Promise<void>>();
  const send = async (dueAt: number) => {
    const exchange = nextExchange();
    try {
      const response = await pool.request({ method: 'POST', path, headers: exchange.headers, body: exchange.body });
      const body = await response.body.text();
      latencies.push(performance.now() - dueAt);
      answered(response.statusCode, body);
    } catch (error) {
      if ((error as { code?: string }).code?.includes('TIMEOUT')) timeouts++;
      else errors++;
    }
  };
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const dueAt = started + i * intervalMs;
    const wait = dueAt - performance.now();
    // Timers are coarse (≥ 1 ms): send what is due, sleep only when the next is ≥ 1 ms away.
    if (wait >= 1) await sleep(wait);
    const request = send(dueAt);
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  await pool.close();
  return { errors, timeouts };
}

const started = performance.now();
const cpuBefore = process.cpuUsage();
const done = spec.rate === undefined ? await asFastAsAnswered() : await atFixedRate(spec.rate);
const seconds = ((lastAnsweredAt || performance.now()) - started) / 1000;
if (spec.ordersOut) writeFileSync(spec.ordersOut, JSON.stringify(answers.orders));
latencies.sort((a, b) => a - b);
const result: HttpLoadResult = {
  requests: latencies.length, seconds, perSecond: latencies.length / seconds,
  p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99),
  statuses: answers.statuses, unexpected: answers.unexpected, errors: done.errors, timeouts: done.timeouts, orders: answers.orders.length, generator: spec.rate === undefined ? 'autocannon' : 'undici',
  cpuMs: ((cpu) => (cpu.user + cpu.system) / 1000)(process.cpuUsage(cpuBefore)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
