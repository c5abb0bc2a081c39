import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_idem_tests' });
  stripe = stripeClientFor(sim);
});
afterAll(() => sim.close());

const params = { amount: 1198, currency: 'nzd', metadata: { order_id: 'order-idem' } };

function createdWithKey(key: string): number {
  return sim.requestLog.filter((r) => r.idempotencyKey === key && r.path === '/v1/payment_intents' && r.status === 200 && !r.replayed).length;
}

describe('idempotency keys, as Stripe applies them', () => {
  it('replays the stored response for the same key and parameters, with Idempotent-Replayed', async () => {
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-1-create' });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-1-create' });
    expect(second.id).toBe(first.id);
    expect(second.client_secret).toBe(first.client_secret);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(createdWithKey('order-1-create')).toBe(1);
    expect(sim.listPaymentIntents().filter((pi) => pi.metadata.order_id === 'order-idem')).toHaveLength(1);
    expect(sim.webhooks.events.filter((e) => e.type === 'payment_intent.created' && e.data.object.id === first.id)).toHaveLength(1);
  });

  it('rejects the same key with different parameters: StripeIdempotencyError, nothing created', async () => {
    await stripe.paymentIntents.create(params, { idempotencyKey: 'order-2-create' });
    const before = sim.listPaymentIntents().length;
    const error = await stripe.paymentIntents.create({ ...params, amount: 1199 }, { idempotencyKey: 'order-2-create' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeIdempotencyError' });
    expect((error as Error).message).toContain('Keys for idempotent requests can only be used with the same parameters they were first used with');
    expect(sim.listPaymentIntents().length).toBe(before);
  });

  it('rejects the same key on another endpoint', async () => {
    const pi = await stripe.paymentIntents.create(params, { idempotencyKey: 'order-3' });
    const error = await stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'order-3' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((error as Error).message).toContain('same endpoint');
    expect(sim.getPaymentIntent(pi.id)?.status).toBe('requires_payment_method');
  });

  it('scopes keys per API key', async () => {
    const a = await stripe.paymentIntents.create(params, { idempotencyKey: 'shared-key' });
    const other = stripeClientFor(sim, { apiKey: 'sk_test_another_account' });
    const b = await other.paymentIntents.create(params, { idempotencyKey: 'shared-key' });
    expect(b.id).not.toBe(a.id);
  });

  it('replays a stored card decline (402) instead of charging again', async () => {
    const pi = await stripe.paymentIntents.create(params);
    const confirm = () => stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'confirm-declined' });
    const first = (await confirm().catch((e: unknown) => e)) as Stripe.errors.StripeCardError;
    const second = (await confirm().catch((e: unknown) => e)) as Stripe.errors.StripeCardError;
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second.charge).toBe(first.charge);
    expect(second.headers?.['idempotent-replayed']).toBe('true');
    expect(sim.webhooks.events.filter((e) => e.type === 'charge.failed' && e.data.object.payment_intent === pi.id)).toHaveLength(1);
  });

  it('does not store validation errors, so the key can be used again once the request is fixed', async () => {
    const bad = await stripe.paymentIntents.create({ amount: 10, currency: 'nzd' }, { idempotencyKey: 'too-small' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ statusCode: 400, code: 'amount_too_small' });
    // Not saved: a different request under the key is not an idempotency error.
    const ok = await stripe.paymentIntents.create(params, { idempotencyKey: 'too-small' });
    expect(ok.status).toBe('requires_payment_method');
  });

  it('stores an injected 500 under its key and replays it for 24 hours (simulated clock); then the key runs anew', async () => {
    // docs.stripe.com/idempotency: "Subsequent requests with the same key return the same result, including 500 errors."
    const key = 'stored-500';
    sim.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500 });
    const before = sim.listPaymentIntents().length;
    const first = (await stripe.paymentIntents.create(params, { idempotencyKey: key }).catch((e: unknown) => e)) as Stripe.errors.StripeAPIError;
    expect(first).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(first).toMatchObject({ statusCode: 500, type: 'StripeAPIError' });
    // A retry would only get the saved 500 again, so Stripe tells the SDK not to (stripe-node RequestSender).
    expect(first.headers?.['stripe-should-retry']).toBe('false');

    sim.advanceClock(24 * 60 * 60 - 60);
    const replayed = (await stripe.paymentIntents.create(params, { idempotencyKey: key }).catch((e: unknown) => e)) as Stripe.errors.StripeAPIError;
    expect(replayed).toMatchObject({ statusCode: 500, message: first.message });
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect(replayed.headers?.['original-request']).toBe(first.requestId);
    expect(sim.listPaymentIntents().length).toBe(before);

    sim.advanceClock(61); // the key is now older than 24 hours: pruned, so the request runs anew
    const fresh = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(fresh.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(fresh.status).toBe('requires_payment_method');
    expect(createdWithKey(key)).toBe(1);
  });

  it('stores a 500 that came after the PaymentIntent was created: the replay is the 500, the PaymentIntent exists', async () => {
    const key = 'created-then-500';
    const metadata = { order_id: 'order-500-after' };
    sim.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, when: 'after' });
    const failed = await stripe.paymentIntents.create({ ...params, metadata }, { idempotencyKey: key }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ statusCode: 500 });
    const replay = await stripe.paymentIntents.create({ ...params, metadata }, { idempotencyKey: key }).catch((e: unknown) => e);
    expect(replay).toMatchObject({ statusCode: 500, headers: expect.objectContaining({ 'idempotent-replayed': 'true' }) });
    const created = sim.listPaymentIntents().filter((pi) => pi.metadata.order_id === 'order-500-after');
    expect(created).toHaveLength(1);
    expect(sim.webhooks.events.filter((e) => e.type === 'payment_intent.created' && e.data.object.id === created[0]?.id)).toHaveLength(1);
    // What a client must do instead: look for what the failed attempt may have created.
    const found = await stripe.paymentIntents.search({ query: "metadata['order_id']:'order-500-after'" });
    expect(found.data.map((pi) => pi.id)).toEqual([created[0]?.id]);
  });

  it('makes the SDK stop after a stored 500 (Stripe-Should-Retry: false), whatever its retry budget', async () => {
    sim.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, times: 'always' });
    try {
      const retrying = stripeClientFor(sim, { maxNetworkRetries: 2 });
      const error = await retrying.paymentIntents.create(params, { idempotencyKey: 'no-retry-500' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ statusCode: 500 });
      expect(sim.requestLog.filter((r) => r.idempotencyKey === 'no-retry-500')).toHaveLength(1);
    } finally {
      sim.faults.clear();
    }
  });

  it('answers 409 to a request whose key is still in flight (Stripe being slow), then replays', async () => {
    sim.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'stall', ms: 400 });
    const slow = stripe.paymentIntents.create(params, { idempotencyKey: 'in-flight' });
    // Wait until the simulator holds the first request, then retry under the same key.
    while (!sim.requestLog.some((r) => r.idempotencyKey === 'in-flight' && r.fault === 'stall')) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const conflict = await stripe.paymentIntents.create(params, { idempotencyKey: 'in-flight' }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(Stripe.errors.StripeError);
    expect(conflict).toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
    expect((conflict as Stripe.errors.StripeError).raw).toMatchObject({ type: 'idempotency_error' });
    const first = await slow;
    const after = await stripe.paymentIntents.create(params, { idempotencyKey: 'in-flight' });
    expect(after.id).toBe(first.id);
    expect(after.lastResponse.headers['idempotent-replayed']).toBe('true');
  });
});
