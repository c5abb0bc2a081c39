import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { API_VERSION, startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { startWebhookReceiver, stripeClientFor, type WebhookReceiver } from '../src/testing.ts';
import type { StripeEvent } from '../src/events.ts';

const secret = 'whsec_webhook_tests';
let sim: StripeSimulator;
let stripe: Stripe;
let receiver: WebhookReceiver;
let respond: (event: StripeEvent, seenBefore: number) => number = () => 200;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret, respond: (e, n) => respond(e, n) });
  sim = await startStripeSimulator({ webhookSecret: secret, webhookUrl: receiver.url, webhookRetry: { attempts: 4, baseDelayMs: 20 } });
  stripe = stripeClientFor(sim);
});
afterEach(async () => {
  sim.webhooks.reset();
  await sim.webhooks.idle();
  respond = () => 200;
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
});

function received(piId: string): StripeEvent[] {
  return receiver.events().filter((e) => e.data.object.id === piId || e.data.object.payment_intent === piId);
}

describe('webhook delivery', () => {
  it('POSTs signed Stripe event envelopes that the SDK’s constructEvent verifies', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: 'o-1' } }, { idempotencyKey: 'wh-1' });
    await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    await sim.webhooks.idle();
    const events = received(pi.id);
    expect(events.map((e) => e.type)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
    const [created] = events;
    expect(created?.id).toMatch(/^evt_[A-Za-z0-9]{24}$/);
    expect(created).toMatchObject({
      object: 'event', api_version: API_VERSION, livemode: false, pending_webhooks: 1,
      request: { id: pi.lastResponse.requestId, idempotency_key: 'wh-1' },
      data: { object: { id: pi.id, object: 'payment_intent', status: 'requires_payment_method', metadata: { order_id: 'o-1' } } },
    });
    expect(API_VERSION).toBe(Stripe.API_VERSION);
    const entry = receiver.received.find((r) => r.event?.id === created?.id);
    expect(entry?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(entry?.headers['user-agent']).toBe('Stripe/1.0 (+https://stripe.com/docs/webhooks)');
    expect(entry?.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('retries with back-off after the endpoint answers 500 twice', async () => {
    respond = (event, seenBefore) => (event.type === 'payment_intent.created' && seenBefore < 2 ? 500 : 200);
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    const event = sim.webhooks.events.find((e) => e.type === 'payment_intent.created' && e.data.object.id === pi.id);
    const attempts = sim.webhooks.deliveries.filter((d) => d.eventId === event?.id);
    expect(attempts.map((d) => [d.attempt, d.status])).toEqual([[1, 500], [2, 500], [3, 200]]);
    expect(attempts.every((d) => d.url === receiver.url)).toBe(true);
  });

  it('gives up after the configured attempts', async () => {
    respond = (event) => (event.type === 'payment_intent.created' ? 503 : 200);
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    const event = sim.webhooks.events.find((e) => e.type === 'payment_intent.created' && e.data.object.id === pi.id);
    expect(sim.webhooks.deliveries.filter((d) => d.eventId === event?.id).map((d) => d.status)).toEqual([503, 503, 503, 503]);
  });

  it('delivers an event twice when asked (duplicate) and N times at once (concurrent)', async () => {
    sim.webhooks.once({ type: 'payment_intent.created' }, { duplicate: 1 });
    const a = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    expect(received(a.id).map((e) => e.type)).toEqual(['payment_intent.created', 'payment_intent.created']);
    expect(new Set(received(a.id).map((e) => e.id)).size).toBe(1);

    sim.webhooks.configure({ concurrent: 3 });
    const b = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    const copies = sim.webhooks.deliveries.filter((d) => d.eventId === received(b.id)[0]?.id);
    expect(copies.map((d) => d.copy).sort()).toEqual([1, 2, 3]);
    expect(received(b.id)).toHaveLength(3);
  });

  it('delivers late: the first attempt of a delayed event waits delayMs', async () => {
    sim.webhooks.once({ type: 'payment_intent.created' }, { delayMs: 300 });
    const before = Date.now();
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    const event = sim.webhooks.events.find((e) => e.type === 'payment_intent.created' && e.data.object.id === pi.id);
    const [attempt] = sim.webhooks.deliveries.filter((d) => d.eventId === event?.id);
    expect(attempt?.at).toBeGreaterThanOrEqual(before + 300);
    expect(received(pi.id).map((e) => e.type)).toEqual(['payment_intent.created']);
  });

  it('delivers out of order: holds the next K events and releases them reversed, one after the other', async () => {
    sim.webhooks.holdNext(3);
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd', payment_method: 'pm_card_visa', confirm: true });
    await sim.webhooks.idle();
    expect(received(pi.id).map((e) => e.type)).toEqual(['payment_intent.succeeded', 'charge.succeeded', 'payment_intent.created']);
  });

  it('holds one event type until released: charge.refunded reaches the endpoint before payment_intent.succeeded', async () => {
    sim.webhooks.hold({ type: 'payment_intent.succeeded' });
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'nzd', payment_method: 'pm_card_visa', confirm: true });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 400 });
    await sim.webhooks.idle(); // held events do not count: everything else is delivered
    expect(received(pi.id).map((e) => e.type).sort()).toEqual(['charge.refunded', 'charge.succeeded', 'payment_intent.created', 'refund.created']);
    expect(sim.webhooks.config().held).toBe(1);
    sim.webhooks.releaseHeld();
    await sim.webhooks.idle();
    expect(received(pi.id).map((e) => e.type)).toHaveLength(5);
    expect(received(pi.id).at(-1)?.type).toBe('payment_intent.succeeded');
    expect(sim.webhooks.config().held).toBe(0);
  });

  it('pauses and resumes delivery', async () => {
    sim.webhooks.pause();
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    expect(received(pi.id)).toHaveLength(0);
    expect(sim.webhooks.config().paused).toBe(true);
    sim.webhooks.resume();
    await sim.webhooks.idle();
    expect(received(pi.id).map((e) => e.type)).toEqual(['payment_intent.created']);
  });

  it('sends hand-crafted and recorded events again on demand', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    const forged = sim.webhooks.buildEvent('payment_intent.succeeded', { ...sim.getPaymentIntent(pi.id), status: 'succeeded', amount_received: 1 });
    await sim.webhooks.send(forged);
    const original = sim.webhooks.events.find((e) => e.data.object.id === pi.id);
    await sim.webhooks.send(original as StripeEvent);
    await sim.webhooks.idle();
    expect(received(pi.id).map((e) => [e.type, e.id])).toEqual([
      ['payment_intent.created', original?.id],
      ['payment_intent.succeeded', forged.id],
      ['payment_intent.created', original?.id],
    ]);
    expect(sim.webhooks.events.some((e) => e.id === forged.id)).toBe(false);
  });

  it('records events without delivering when there is no webhook URL', async () => {
    const quiet = await startStripeSimulator({ webhookSecret: secret });
    try {
      const client = stripeClientFor(quiet);
      const pi = await client.paymentIntents.create({ amount: 500, currency: 'nzd' });
      await quiet.webhooks.idle();
      expect(quiet.webhooks.events.map((e) => e.type)).toEqual(['payment_intent.created']);
      expect(quiet.webhooks.deliveries).toHaveLength(0);
      expect(received(pi.id)).toHaveLength(0);
    } finally {
      await quiet.close();
    }
  });

  it('records a network error as an attempt without status and retries', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await sim.webhooks.idle();
    const unreachable = 'http://127.0.0.1:9/unreachable';
    sim.setWebhookUrl(unreachable);
    try {
      const event = sim.webhooks.events.find((e) => e.data.object.id === pi.id) as StripeEvent;
      await sim.webhooks.send(event);
      const attempts = sim.webhooks.deliveries.filter((d) => d.url === unreachable);
      expect(attempts).toHaveLength(4);
      expect(attempts.every((d) => d.status === null && typeof d.error === 'string')).toBe(true);
    } finally {
      sim.setWebhookUrl(receiver.url);
    }
  });
});
