import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_fault_tests' });
  stripe = stripeClientFor(sim);
});
afterEach(() => sim.faults.clear());
afterAll(() => sim.close());

const params = { amount: 1198, currency: 'nzd' };

describe('injected faults', () => {
  it('fail: answers a Stripe-shaped 500 without doing anything, once by default', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'fail' });
    const before = sim.listPaymentIntents().length;
    const error = await stripe.paymentIntents.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, type: 'StripeAPIError' });
    expect((error as Stripe.errors.StripeAPIError).requestId).toMatch(/^req_/);
    expect(sim.listPaymentIntents().length).toBe(before);
    const ok = await stripe.paymentIntents.create(params);
    expect(ok.status).toBe('requires_payment_method');
  });

  it('fail: honours status, error type, method, a RegExp path and times', async () => {
    sim.faults.add({ method: 'GET', path: /^\/v1\/payment_intents\/pi_/, action: 'fail', status: 429, errorType: 'rate_limit_error', times: 2 });
    const pi = await stripe.paymentIntents.create(params);
    const first = await stripe.paymentIntents.retrieve(pi.id).catch((e: unknown) => e);
    const second = await stripe.paymentIntents.retrieve(pi.id).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(second).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect((await stripe.paymentIntents.retrieve(pi.id)).id).toBe(pi.id);
    expect(sim.faults.list()).toHaveLength(0);
  });

  it('stall: holds the request, then processes it normally; an SDK timeout gives StripeConnectionError', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'stall', ms: 300 });
    const impatient = stripeClientFor(sim, { timeout: 50 });
    const error = await impatient.paymentIntents.create({ ...params, metadata: { order_id: 'stalled' } }, { idempotencyKey: 'stall-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    // Stripe still did the work: the retry under the same key finds it once the first finishes.
    let replay: Stripe.Response<Stripe.PaymentIntent> | undefined;
    while (!replay) {
      replay = await stripe.paymentIntents.create({ ...params, metadata: { order_id: 'stalled' } }, { idempotencyKey: 'stall-1' })
        .catch(async (e: unknown) => {
          if ((e as Stripe.errors.StripeError).statusCode !== 409) throw e;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return undefined;
        });
    }
    expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(sim.listPaymentIntents().filter((p) => p.metadata.order_id === 'stalled')).toHaveLength(1);
  });

  it('drop: a connection closed once is retried by the SDK itself with the same key', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'drop' });
    const pi = await stripe.paymentIntents.create({ ...params, metadata: { order_id: 'dropped-once' } });
    const attempts = sim.requestLog.filter((r) => r.path === '/v1/payment_intents' && r.params.metadata && (r.params.metadata as Record<string, string>).order_id === 'dropped-once');
    expect(attempts.map((r) => [r.status, r.fault])).toEqual([[null, 'drop'], [200, null]]);
    expect(attempts[0]?.idempotencyKey).toBe(attempts[1]?.idempotencyKey);
    expect(pi.status).toBe('requires_payment_method');
  });

  it('drop twice: StripeConnectionError and nothing created', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'drop', times: 2 });
    const before = sim.listPaymentIntents().length;
    const error = await stripe.paymentIntents.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(sim.listPaymentIntents().length).toBe(before);
  });

  it('drop after processing: the answer is lost but Stripe did the work (one PaymentIntent in the end)', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'drop', when: 'after', times: 2 });
    const error = await stripe.paymentIntents.create({ ...params, metadata: { order_id: 'lost-answer' } }, { idempotencyKey: 'lost-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(sim.listPaymentIntents().filter((p) => p.metadata.order_id === 'lost-answer')).toHaveLength(1);
    const retry = await stripe.paymentIntents.create({ ...params, metadata: { order_id: 'lost-answer' } }, { idempotencyKey: 'lost-1' });
    expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(sim.listPaymentIntents().filter((p) => p.metadata.order_id === 'lost-answer')).toHaveLength(1);
  });

  it('stall after commit: the client times out although Stripe created the PaymentIntent; a retry under the key replays it', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'stall', ms: 60_000, when: 'after' });
    const impatient = stripeClientFor(sim, { timeout: 200 });
    const metadata = { order_id: 'timed-out-after-commit' };
    const error = await impatient.paymentIntents.create({ ...params, metadata }, { idempotencyKey: 'late-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const created = sim.listPaymentIntents().filter((p) => p.metadata.order_id === 'timed-out-after-commit');
    expect(created).toHaveLength(1);
    // The result was saved before the answer was held: no 409, the retry gets it at once.
    const retry = await stripe.paymentIntents.create({ ...params, metadata }, { idempotencyKey: 'late-1' });
    expect(retry.id).toBe(created[0]?.id);
    expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  it('stall after commit under the SDK’s own retries: its retry gets the saved PaymentIntent', async () => {
    sim.faults.add({ path: '/v1/payment_intents', action: 'stall', ms: 60_000, when: 'after' });
    const retrying = stripeClientFor(sim, { timeout: 200, maxNetworkRetries: 1 });
    const pi = await retrying.paymentIntents.create({ ...params, metadata: { order_id: 'sdk-retry-after-commit' } });
    expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(sim.listPaymentIntents().filter((p) => p.metadata.order_id === 'sdk-retry-after-commit')).toHaveLength(1);
  });

  it.each([
    [true, 2, 200],
    [false, 1, 429],
    [undefined, 1, 429],
  ] as const)('429 with Stripe-Should-Retry %s: the SDK (2 retries allowed) sends %i request(s), ends with %i', async (shouldRetry, requests, status) => {
    sim.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 429, ...(shouldRetry !== undefined ? { shouldRetry } : {}) });
    const key = `rate-limited-${String(shouldRetry)}`;
    const retrying = stripeClientFor(sim, { maxNetworkRetries: 2 });
    const outcome = await retrying.paymentIntents.create(params, { idempotencyKey: key }).catch((e: unknown) => e);
    const attempts = sim.requestLog.filter((r) => r.idempotencyKey === key);
    expect(attempts).toHaveLength(requests);
    expect(attempts[0]?.status).toBe(429);
    if (status === 429) {
      expect(outcome).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(outcome).toMatchObject({ statusCode: 429, code: 'rate_limit' });
      // Rate limiting runs before the idempotency layer: nothing is saved, the same key works later.
      const later = await stripe.paymentIntents.create(params, { idempotencyKey: key });
      expect(later.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    } else {
      expect(outcome).toMatchObject({ object: 'payment_intent', status: 'requires_payment_method' });
    }
  });

  it('refuses a 4xx fault “after” the work: a 4xx is answered before the request runs', () => {
    expect(() => sim.faults.add({ action: 'fail', status: 429, when: 'after' })).toThrow(/needs a 5xx/);
  });
});

describe('Stripe’s HTTP surface', () => {
  it('answers 401 without an API key or with a live or malformed one', async () => {
    const none = await fetch(`${sim.url}/v1/payment_intents`);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('You did not provide an API key') } });
    const live = stripeClientFor(sim, { apiKey: 'sk_live_abcdefghijklmnop' });
    const error = await live.paymentIntents.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect((error as Error).message).toMatch(/^Invalid API Key provided: sk_live_\*+mnop$/);
  });

  it('accepts HTTP Basic auth like curl -u sk_test_…:', async () => {
    const res = await fetch(`${sim.url}/v1/payment_intents?limit=1`, { headers: { Authorization: `Basic ${Buffer.from('sk_test_curl:').toString('base64')}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('request-id')).toMatch(/^req_[A-Za-z0-9]{14}$/);
    expect(await res.json()).toMatchObject({ object: 'list', url: '/v1/payment_intents' });
  });

  it('answers unknown routes with a Stripe-shaped 404', async () => {
    const res = await fetch(`${sim.url}/v1/customers`, { headers: { Authorization: 'Bearer sk_test_x' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('Unrecognized request URL (GET: /v1/customers)') } });
  });
});
