import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { simulatorControl, startWebhookReceiver, stripeClientFor, type WebhookReceiver } from '../src/testing.ts';

const secret = 'whsec_control_tests';
let sim: StripeSimulator;
let stripe: Stripe;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver({ secret });
  sim = await startStripeSimulator({ webhookSecret: secret, webhookRetry: { attempts: 3, baseDelayMs: 20 } });
  stripe = stripeClientFor(sim);
});
afterAll(async () => {
  await sim.close();
  await receiver.close();
});

async function control(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}/_simulator${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('control API over HTTP (/_simulator)', () => {
  it('adds, lists and clears faults that the SDK then observes', async () => {
    const added = await control('POST', '/faults', { method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 503, times: 'always' });
    expect(added.status).toBe(201);
    const listed = await control('GET', '/faults');
    expect(listed.json.faults).toEqual([expect.objectContaining({ id: added.json.id, action: 'fail', status: 503, path: '/v1/payment_intents', remaining: 'always' })]);
    for (let i = 0; i < 2; i += 1) {
      const error = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ statusCode: 503, type: 'StripeAPIError' });
    }
    expect((await control('DELETE', '/faults')).status).toBe(200);
    expect((await control('GET', '/faults')).json.faults).toEqual([]);
    expect((await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' })).status).toBe('requires_payment_method');
  });

  it('matches fault paths by prefix (trailing *) and by pattern, and removes one by id', async () => {
    const prefix = await control('POST', '/faults', { path: '/v1/refunds*', action: 'fail', times: 'always' });
    const pattern = await control('POST', '/faults', { pathPattern: '/confirm$', action: 'fail', status: 502 });
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    const confirmError = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }).catch((e: unknown) => e);
    expect(confirmError).toMatchObject({ statusCode: 502 });
    const refundError = await stripe.refunds.create({ payment_intent: pi.id }).catch((e: unknown) => e);
    expect(refundError).toMatchObject({ statusCode: 500, type: 'StripeAPIError' });
    expect((await control('DELETE', `/faults/${String(prefix.json.id)}`)).json).toEqual({ removed: true });
    expect((await control('DELETE', `/faults/${String(pattern.json.id)}`)).status).toBe(404);
  });

  it('rejects a malformed fault with 400', async () => {
    expect((await control('POST', '/faults', { action: 'explode' })).status).toBe(400);
    expect((await control('POST', '/faults', { action: 'stall' })).status).toBe(400);
  });

  it('configures webhook delivery (URL, duplicates) and lists events, deliveries and requests', async () => {
    const config = await control('POST', '/webhooks/config', { url: receiver.url, duplicate: 1 });
    expect(config.json).toMatchObject({ url: receiver.url, duplicate: 1, concurrent: 1, delayMs: 0, paused: false });
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' }, { idempotencyKey: 'ctl-1' });
    expect((await control('GET', '/webhooks/idle')).json).toEqual({ idle: true });
    const events = (await control('GET', '/events?type=payment_intent.created')).json.events as Array<{ id: string; data: { object: { id: string } } }>;
    const event = events.find((e) => e.data.object.id === pi.id);
    expect(event).toBeDefined();
    expect(receiver.events().filter((e) => e.id === event?.id)).toHaveLength(2);
    const deliveries = (await control('GET', '/webhooks/deliveries')).json.deliveries as Array<{ eventId: string; status: number }>;
    expect(deliveries.filter((d) => d.eventId === event?.id).map((d) => d.status)).toEqual([200, 200]);
    const requests = (await control('GET', '/requests')).json.requests as Array<{ idempotencyKey: string; status: number }>;
    expect(requests.filter((r) => r.idempotencyKey === 'ctl-1').map((r) => r.status)).toEqual([200]);

    await control('POST', '/webhooks/config', { duplicate: 0 });
    expect((await control('POST', `/events/${event?.id}/resend`, {})).status).toBe(202);
    await control('GET', '/webhooks/idle');
    expect(receiver.events().filter((e) => e.id === event?.id)).toHaveLength(3);
  });

  it('pauses and resumes delivery, and sends a hand-crafted event', async () => {
    await control('POST', '/webhooks/config', { url: receiver.url, paused: true });
    const pi = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' });
    await control('GET', '/webhooks/idle');
    expect(receiver.events().filter((e) => e.data.object.id === pi.id)).toHaveLength(0);
    await control('POST', '/webhooks/resume');
    await control('GET', '/webhooks/idle');
    expect(receiver.events().filter((e) => e.data.object.id === pi.id)).toHaveLength(1);

    const forged = sim.webhooks.buildEvent('charge.refunded', { id: 'ch_handmade', object: 'charge', payment_intent: pi.id });
    expect((await control('POST', '/webhooks/send', { event: forged })).status).toBe(202);
    await control('GET', '/webhooks/idle');
    expect(receiver.events().map((e) => e.id)).toContain(forged.id);
    expect((await control('POST', '/webhooks/send', { event: { nope: true } })).status).toBe(400);
  });

  it('resets faults and webhook behaviour to plain Stripe', async () => {
    await control('POST', '/faults', { action: 'fail', times: 'always' });
    await control('POST', '/webhooks/config', { duplicate: 2, delayMs: 5, paused: true });
    expect((await control('POST', '/reset')).json).toEqual({ reset: true });
    expect((await control('GET', '/faults')).json.faults).toEqual([]);
    expect((await control('GET', '/webhooks/config')).json).toMatchObject({ duplicate: 0, concurrent: 1, delayMs: 0, paused: false, reorderPending: 0 });
    expect((await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' })).status).toBe('requires_payment_method');
  });

  it('moves the simulated clock forward: objects are created “later”, a key expires after 24 hours', async () => {
    const ctl = simulatorControl(sim.url);
    const before = await ctl.clock();
    const firstKey = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' }, { idempotencyKey: 'clock-key' });
    const moved = await ctl.advanceClock(24 * 60 * 60 + 1);
    expect(moved.offsetSeconds - before.offsetSeconds).toBe(24 * 60 * 60 + 1);
    expect(moved.now).toBeGreaterThanOrEqual(before.now + 24 * 60 * 60);
    const secondKey = await stripe.paymentIntents.create({ amount: 500, currency: 'nzd' }, { idempotencyKey: 'clock-key' });
    expect(secondKey.id).not.toBe(firstKey.id);
    expect(secondKey.created - firstKey.created).toBeGreaterThanOrEqual(24 * 60 * 60);
    await expect(ctl.advanceClock(-1)).rejects.toThrow(/400/);
  });

  it('drives holds, search lag and refund failures for a simulator in another process', async () => {
    const ctl = simulatorControl(sim.url);
    await control('POST', '/webhooks/config', { url: receiver.url });
    expect(await ctl.holdWebhooks({ type: 'payment_intent.succeeded' })).toMatchObject({ held: 0 });
    await ctl.setSearchLag(30);
    const pi = await stripe.paymentIntents.create({ amount: 800, currency: 'nzd', metadata: { order_id: 'ctl-lag' }, payment_method: 'pm_card_visa', confirm: true });
    expect((await stripe.paymentIntents.search({ query: "metadata['order_id']:'ctl-lag'" })).data).toEqual([]);
    await ctl.advanceClock(30);
    expect((await stripe.paymentIntents.search({ query: "metadata['order_id']:'ctl-lag'" })).data.map((p) => p.id)).toEqual([pi.id]);
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    expect(await ctl.failRefund(refund.id, 'expired_or_canceled_card')).toMatchObject({ id: refund.id, status: 'failed' });
    await ctl.settled();
    const types = receiver.events().filter((e) => e.data.object.id === refund.id || e.data.object.payment_intent === pi.id).map((e) => e.type);
    expect(types).toContain('charge.refund.updated');
    expect(types).not.toContain('payment_intent.succeeded');
    expect(await ctl.releaseWebhooks()).toMatchObject({ held: 0 });
    await ctl.settled();
    expect(receiver.events().filter((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === pi.id)).toHaveLength(1);
    await ctl.reset();
    expect((await control('GET', '/search')).json).toEqual({ lagSeconds: 0 });
  });

  it('answers 404 for an unknown control route', async () => {
    expect((await control('GET', '/nothing-here')).status).toBe(404);
  });
});
