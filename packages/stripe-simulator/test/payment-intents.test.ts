import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { CHARGE_MINIMUMS, MAXIMUM_AMOUNT, startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_pi_tests' });
  stripe = stripeClientFor(sim);
});
afterAll(() => sim.close());

function eventsFor(piId: string): string[] {
  return sim.webhooks.events
    .filter((e) => e.data.object.id === piId || e.data.object.payment_intent === piId)
    .map((e) => e.type);
}

describe('PaymentIntents through the official SDK', () => {
  it('creates a PaymentIntent shaped like Stripe’s and raises payment_intent.created', async () => {
    const pi = await stripe.paymentIntents.create({
      amount: 1198, currency: 'NZD', metadata: { order_id: 'order-1' }, automatic_payment_methods: { enabled: true },
    });
    expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_[A-Za-z0-9]{24}$`));
    expect(pi).toMatchObject({
      object: 'payment_intent', amount: 1198, amount_capturable: 0, amount_received: 0, currency: 'nzd',
      status: 'requires_payment_method', metadata: { order_id: 'order-1' }, latest_charge: null,
      payment_method: null, last_payment_error: null, livemode: false, canceled_at: null,
      cancellation_reason: null, automatic_payment_methods: { enabled: true }, confirmation_method: 'automatic',
      customer: null, description: null, next_action: null,
    });
    expect(pi.payment_method_types).toEqual(['card']);
    expect(typeof pi.created).toBe('number');
    expect(pi.lastResponse.headers['request-id']).toMatch(/^req_/);
    expect(eventsFor(pi.id)).toEqual(['payment_intent.created']);
  });

  it('retrieves and lists PaymentIntents newest first with Stripe’s list shape', async () => {
    const a = await stripe.paymentIntents.create({ amount: 500, currency: 'usd' });
    const b = await stripe.paymentIntents.create({ amount: 600, currency: 'usd' });
    const got = await stripe.paymentIntents.retrieve(a.id);
    expect(got).toMatchObject({ id: a.id, amount: 500, client_secret: a.client_secret });
    const page = await stripe.paymentIntents.list({ limit: 2 });
    expect(page.object).toBe('list');
    expect(page.url).toBe('/v1/payment_intents');
    expect(page.data.map((p) => p.id)).toEqual([b.id, a.id]);
    expect(page.has_more).toBe(true);
    const next = await stripe.paymentIntents.list({ limit: 100, starting_after: a.id });
    expect(next.data.map((p) => p.id)).not.toContain(a.id);
    expect(next.has_more).toBe(false);
    expect(sim.listPaymentIntents().length).toBeGreaterThanOrEqual(3);
  });

  it('answers 404 resource_missing with param id for an unknown PaymentIntent', async () => {
    const error = await stripe.paymentIntents.retrieve('pi_doesnotexist').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'id', message: "No such payment_intent: 'pi_doesnotexist'" });
  });

  it.each([
    [{ currency: 'usd' }, 'amount', 'Missing required param: amount.'],
    [{ amount: 500 }, 'currency', 'Missing required param: currency.'],
    [{ amount: 500, currency: 'xyz' }, 'currency', undefined],
    [{ amount: -5, currency: 'usd' }, 'amount', undefined],
    [{ amount: 10, currency: 'usd' }, 'amount', undefined],
    [{ amount: 500, currency: 'usd', bogus: 'x' }, 'bogus', 'Received unknown parameter: bogus'],
  ])('rejects bad parameters %j naming the param', async (params, param, message) => {
    const error = await stripe.paymentIntents.create(params as Stripe.PaymentIntentCreateParams).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', param });
    if (message) expect((error as Error).message).toBe(message);
  });

  it.each(Object.entries(CHARGE_MINIMUMS))('refuses %s amounts below Stripe’s minimum of %i (amount_too_small) and accepts the minimum', async (currency, minimum) => {
    const error = await stripe.paymentIntents.create({ amount: minimum - 1, currency }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', code: 'amount_too_small', param: 'amount' });
    expect((error as Error).message).toMatch(new RegExp(`^Amount must be at least [0-9.]+ ${currency}$`));
    expect((error as Stripe.errors.StripeError).raw).toMatchObject({ type: 'invalid_request_error', doc_url: expect.stringContaining('amount-too-small') });
    const ok = await stripe.paymentIntents.create({ amount: minimum, currency });
    expect(ok).toMatchObject({ amount: minimum, currency });
  });

  it('names the minimum in the currency’s own unit: 0.50 nzd, 0.30 gbp, 50 jpy', async () => {
    const message = async (amount: number, currency: string) => ((await stripe.paymentIntents.create({ amount, currency }).catch((e: unknown) => e)) as Error).message;
    expect(await message(49, 'nzd')).toBe('Amount must be at least 0.50 nzd');
    expect(await message(29, 'gbp')).toBe('Amount must be at least 0.30 gbp');
    expect(await message(49, 'jpy')).toBe('Amount must be at least 50 jpy');
  });

  it('refuses amounts above eight digits (amount_too_large), on create and on update', async () => {
    const error = await stripe.paymentIntents.create({ amount: MAXIMUM_AMOUNT + 1, currency: 'nzd' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
    const pi = await stripe.paymentIntents.create({ amount: MAXIMUM_AMOUNT, currency: 'nzd' });
    const update = await stripe.paymentIntents.update(pi.id, { amount: 20 }).catch((e: unknown) => e);
    expect(update).toMatchObject({ statusCode: 400, code: 'amount_too_small' });
  });

  it('confirms with pm_card_visa: succeeded, charge created, charge.succeeded + payment_intent.succeeded', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 2450, currency: 'nzd', metadata: { order_id: 'o-visa' } });
    const confirmed = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(confirmed).toMatchObject({ status: 'succeeded', amount_received: 2450, last_payment_error: null });
    expect(confirmed.payment_method).toMatch(/^pm_[A-Za-z0-9]{24}$/);
    expect(confirmed.latest_charge).toMatch(/^ch_[A-Za-z0-9]{24}$/);
    const charge = sim.getCharge(confirmed.latest_charge as string);
    expect(charge).toMatchObject({
      object: 'charge', amount: 2450, amount_captured: 2450, amount_refunded: 0, paid: true, captured: true,
      status: 'succeeded', payment_intent: pi.id, currency: 'nzd', metadata: { order_id: 'o-visa' },
    });
    expect(eventsFor(pi.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    const succeeded = sim.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === pi.id);
    expect(succeeded?.data.object).toMatchObject({ status: 'succeeded', amount_received: 2450, metadata: { order_id: 'o-visa' } });
  });

  it('retrieves latest_charge as an id, or with expand[]=latest_charge as the Charge itself', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 2450, currency: 'nzd', metadata: { order_id: 'o-expand' }, payment_method: 'pm_card_visa', confirm: true });
    const plain = await stripe.paymentIntents.retrieve(pi.id);
    expect(plain.latest_charge).toMatch(/^ch_[A-Za-z0-9]{24}$/);
    const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(expanded.latest_charge).toMatchObject({
      object: 'charge', id: plain.latest_charge, amount: 2450, amount_captured: 2450, amount_refunded: 0, refunded: false,
      currency: 'nzd', payment_intent: pi.id, status: 'succeeded', metadata: { order_id: 'o-expand' },
    });
    // Since API version 2022-11-15 a Charge no longer embeds its refunds.
    expect(expanded.latest_charge).not.toHaveProperty('refunds');
    const unknown = await stripe.paymentIntents.retrieve(pi.id, { expand: ['customer.address'] }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ statusCode: 400, param: 'expand' });
  });

  it('confirms with pm_card_mastercard and at create time with confirm=true', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 999, currency: 'aud', payment_method: 'pm_card_mastercard', confirm: true });
    expect(pi.status).toBe('succeeded');
    expect(eventsFor(pi.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
  });

  it('declines pm_card_chargeDeclined with StripeCardError 402 and payment_intent.payment_failed', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 700, currency: 'nzd', metadata: { order_id: 'o-declined' } });
    const error = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    const cardError = error as Stripe.errors.StripeCardError;
    expect(cardError).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' });
    expect(cardError.raw).toMatchObject({ type: 'card_error', doc_url: expect.stringContaining('card-declined') });
    expect((cardError.raw as { request_log_url?: string }).request_log_url).toContain(cardError.requestId as string);
    expect(cardError.payment_intent).toMatchObject({ id: pi.id, status: 'requires_payment_method' });
    const after = await stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.payment_method).toBeNull();
    expect(after.last_payment_error).toMatchObject({ type: 'card_error', code: 'card_declined', decline_code: 'generic_decline' });
    expect(eventsFor(pi.id)).toEqual(['payment_intent.created', 'charge.failed', 'payment_intent.payment_failed']);
    // The customer can try another card on the same PaymentIntent.
    const retried = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(retried.status).toBe('succeeded');
  });

  it('refuses to confirm a succeeded or canceled PaymentIntent (payment_intent_unexpected_state)', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const again = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(again).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    const canceled = await stripe.paymentIntents.create({ amount: 800, currency: 'usd' });
    await stripe.paymentIntents.cancel(canceled.id);
    const onCanceled = await stripe.paymentIntents.confirm(canceled.id, { payment_method: 'pm_card_visa' }).catch((e: unknown) => e);
    expect(onCanceled).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
  });

  it('cancels with a reason and raises payment_intent.canceled; a succeeded one cannot be canceled', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'nzd' });
    const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect(typeof canceled.canceled_at).toBe('number');
    expect(eventsFor(pi.id)).toEqual(['payment_intent.created', 'payment_intent.canceled']);
    const paid = await stripe.paymentIntents.create({ amount: 900, currency: 'nzd', payment_method: 'pm_card_visa', confirm: true });
    const error = await stripe.paymentIntents.cancel(paid.id).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    expect(sim.getPaymentIntent(paid.id)?.status).toBe('succeeded');
  });

  it('updates metadata (an empty value removes a key)', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'nzd', metadata: { a: '1', b: '2' } });
    const updated = await stripe.paymentIntents.update(pi.id, { metadata: { b: '', c: '3' } });
    expect(updated.metadata).toEqual({ a: '1', c: '3' });
  });

  it('lets a publishable key confirm with the client secret, as Stripe.js does, and nothing else', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1500, currency: 'nzd' });
    const browser = stripeClientFor(sim, { apiKey: 'pk_test_frontend' });
    const wrong = await browser.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', client_secret: `${pi.id}_secret_wrong` } as Stripe.PaymentIntentConfirmParams).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ statusCode: 400, param: 'client_secret' });
    const confirmed = await browser.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', client_secret: pi.client_secret } as Stripe.PaymentIntentConfirmParams);
    expect(confirmed.status).toBe('succeeded');
    const create = await browser.paymentIntents.create({ amount: 1500, currency: 'nzd' }).catch((e: unknown) => e);
    expect(create).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });
});
