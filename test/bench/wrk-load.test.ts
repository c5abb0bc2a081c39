// The closed-loop legs through wrk (bench/wrk-load.ts), against a small HTTP server standing in for the
// service (and, for the webhook leg's events, for the simulator): every request is one the leg meant
// to send, a leg bounded by a count sends exactly that many, and the answers are checked.
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import type { CheckoutOrder } from '../../bench/http-load.ts';
import { findWrk, runWrkLoad } from '../../bench/wrk-load.ts';

const wrk = findWrk();
if (!wrk) process.stderr.write('[test] wrk tests skipped: no wrk on PATH (install it with: apt-get install -y wrk)\n');
const describeWithWrk = wrk ? describe : describe.skip;

let server: Server | undefined;
let dir: string | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

type Received = { method: string; path: string; headers: IncomingMessage['headers']; body: string };

/** A server that notes every request and answers it with `answer`, after 1 ms. */
async function fakeServer(answer: (request: Received, n: number, response: ServerResponse) => void): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.once('end', () => {
      const n = received.push({ method: request.method!, path: request.url!, headers: request.headers, body }) - 1;
      setTimeout(() => answer(received[n]!, n, response), 1);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const json = (response: ServerResponse, status: number, body: unknown) => {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
};
const order = (n: number): CheckoutOrder => ({ orderId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, paymentIntentId: `pi_${n}`, amountTotal: 100 + n });

describeWithWrk('the closed-loop legs through wrk', () => {
  it('sends checkouts with a new Idempotency-Key each for the leg\'s duration, and keeps the orders answered', async () => {
    const { url, received } = await fakeServer((_, n, response) => json(response, 201, order(n)));
    dir = await mkdtemp(join(tmpdir(), 'wrk-test-'));
    const ordersOut = join(dir, 'orders.json');

    const result = await runWrkLoad({ kind: 'checkout', url, connections: 4, durationSeconds: 1, ordersOut }, wrk!);

    expect(result.generator).toBe('wrk');
    expect(result.requests).toBeGreaterThan(50);
    expect(result.unexpected + result.errors).toBe(0);
    expect(result.seconds).toBeGreaterThan(0.8);
    expect(result.seconds).toBeLessThan(1.5);
    expect(result.cpuMs).toBeGreaterThan(0);
    // Requests sent as the run ended may have arrived unanswered: at most one per connection.
    expect(received.length - result.requests).toBeGreaterThanOrEqual(0);
    expect(received.length - result.requests).toBeLessThanOrEqual(4);
    expect(received.every((r) => r.method === 'POST' && r.path === '/checkout' && JSON.parse(r.body).items.length === 3)).toBe(true);
    const keys = received.map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(received.length);
    const orders = JSON.parse(await readFile(ordersOut, 'utf8')) as CheckoutOrder[];
    expect(orders).toHaveLength(result.requests);
    // Each from an answer of its own.
    expect(new Set(orders.map((o) => o.paymentIntentId)).size).toBe(orders.length);
  });

  it('sends exactly the count of a counted leg and ends at its last answer', async () => {
    const { url, received } = await fakeServer((_, n, response) => json(response, 201, order(n)));

    const result = await runWrkLoad({ kind: 'checkout', url, connections: 16, amount: 301 }, wrk!);

    expect(received).toHaveLength(301);
    expect(result.requests).toBe(301);
    expect(result.orders).toBe(301);
    // wrk itself would run its -d (600 s): the leg ends when both threads have their answers.
    expect(result.seconds).toBeLessThan(5);
  });

  it('sends each signed event once, the events of the orders given, and counts an answer other than applied', async () => {
    const secret = 'whsec_wrk_test';
    const template = { id: 'pi_template', object: 'payment_intent', amount: 100, currency: 'eur', status: 'requires_payment_method', metadata: {} };
    const { url, received } = await fakeServer((request, n, response) => {
      if (request.method === 'GET') return json(response, 200, template);
      const event = JSON.parse(request.body) as { data: { object: { id: string } } };
      json(response, 200, { outcome: event.data.object.id === 'pi_7' ? 'duplicate' : 'applied', n });
    });
    dir = await mkdtemp(join(tmpdir(), 'wrk-test-'));
    const ordersIn = join(dir, 'orders.json');
    const orders = Array.from({ length: 25 }, (_, n) => order(n));
    await writeFile(ordersIn, JSON.stringify(orders));

    const result = await runWrkLoad({ kind: 'webhook', url, connections: 4, ordersIn, webhookSecret: secret, simulatorUrl: url }, wrk!);

    const posts = received.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(25);
    expect(result.requests).toBe(25);
    expect(result.unexpected).toBe(1);
    const stripe = new Stripe('sk_test_unused');
    const paid = posts.map((r) => {
      const event = stripe.webhooks.constructEvent(r.body, r.headers['stripe-signature'] as string, secret);
      expect(r.path).toBe('/webhooks/stripe');
      return (event.data.object as { id: string }).id;
    });
    expect(paid.sort()).toEqual(orders.map((o) => o.paymentIntentId).sort());
  });
});
