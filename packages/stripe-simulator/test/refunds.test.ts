import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';
import type { StripeEvent } from '../src/events.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_refund_tests' });
  stripe = stripeClientFor(sim);
});
afterAll(() => sim.close());

async function paidIntent(amount: number, paymentMethod = 'pm_card_visa'): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.create({ amount, currency: 'nzd', metadata: { order_id: `order-${amount}` }, payment_method: paymentMethod, confirm: true });
}

function eventsOfRefund(refundId: string): StripeEvent[] {
  return sim.webhooks.events.filter((e) => e.data.object.id === refundId);
}

function refundedCharges(piId: string): Array<Record<string, unknown>> {
  return sim.webhooks.events.filter((e) => e.type === 'charge.refunded' && e.data.object.payment_intent === piId).map((e) => e.data.object);
}

describe('refunds', () => {
  it('refunds the whole remaining amount by default and raises charge.refunded with the charge', async () => {
    const pi = await paidIntent(1198);
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    expect(refund.id).toMatch(/^re_[A-Za-z0-9]{24}$/);
    expect(refund).toMatchObject({ object: 'refund', amount: 1198, charge: pi.latest_charge, payment_intent: pi.id, currency: 'nzd', status: 'succeeded' });
    const [charge] = refundedCharges(pi.id);
    expect(charge).toMatchObject({
      object: 'charge', id: pi.latest_charge, amount: 1198, amount_captured: 1198, amount_refunded: 1198, refunded: true,
      payment_intent: pi.id, currency: 'nzd', metadata: { order_id: 'order-1198' }, status: 'succeeded',
    });
    expect(sim.webhooks.events.filter((e) => e.type === 'refund.created' && e.data.object.id === refund.id)).toHaveLength(1);
  });

  it('refunds partially with cumulative amount_refunded; refunded only when fully refunded', async () => {
    const pi = await paidIntent(1000);
    await stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    await stripe.refunds.create({ charge: pi.latest_charge as string, amount: 200 });
    expect(refundedCharges(pi.id).map((c) => [c.amount_refunded, c.refunded])).toEqual([[300, false], [500, false]]);
    const over = await stripe.refunds.create({ payment_intent: pi.id, amount: 501 }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(over).toMatchObject({ statusCode: 400, param: 'amount' });
    const rest = await stripe.refunds.create({ payment_intent: pi.id });
    expect(rest.amount).toBe(500);
    expect(refundedCharges(pi.id).at(-1)).toMatchObject({ amount_refunded: 1000, refunded: true });
    const again = await stripe.refunds.create({ payment_intent: pi.id }).catch((e: unknown) => e);
    expect(again).toMatchObject({ statusCode: 400, code: 'charge_already_refunded' });
    const listed = await stripe.refunds.list({ payment_intent: pi.id });
    expect(listed.data.map((r) => r.amount).sort()).toEqual([200, 300, 500]);
    expect(sim.getCharge(pi.latest_charge as string)?.amount_refunded).toBe(1000);
  });

  it('refuses to refund a PaymentIntent without a successful charge, and an unknown one', async () => {
    const unpaid = await stripe.paymentIntents.create({ amount: 700, currency: 'nzd' });
    const error = await stripe.refunds.create({ payment_intent: unpaid.id }).catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError' });
    const missing = await stripe.refunds.create({ payment_intent: 'pi_missing' }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'payment_intent' });
    expect(refundedCharges(unpaid.id)).toHaveLength(0);
  });

  it('pm_card_refundFail: the refund succeeds at first, then fails: charge.refund.updated with the failed Refund', async () => {
    const pi = await paidIntent(1500, 'pm_card_refundFail');
    const refund = await stripe.refunds.create({ payment_intent: pi.id });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 1500 });
    expect(refundedCharges(pi.id).at(-1)).toMatchObject({ amount_refunded: 1500, refunded: true });

    await sim.settled();
    const failed = await stripe.refunds.retrieve(refund.id);
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card', failure_balance_transaction: expect.stringMatching(/^txn_/) });
    const events = eventsOfRefund(refund.id);
    expect(events.map((e) => e.type)).toEqual(['refund.created', 'charge.refund.updated', 'refund.updated', 'refund.failed']);
    const updated = events[1]!;
    expect(updated.data.object).toMatchObject({ object: 'refund', id: refund.id, status: 'failed', failure_reason: 'expired_or_canceled_card', charge: pi.latest_charge });
    expect(updated.data.previous_attributes).toEqual({ failure_balance_transaction: null, failure_reason: null, status: 'succeeded' });
    // Stripe's events for what happened later carry no request.
    expect(updated.request).toEqual({ id: null, idempotency_key: null });
    // The money went back to the merchant's balance: the charge no longer counts it as refunded.
    const charge = (await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] })).latest_charge as Stripe.Charge;
    expect(charge).toMatchObject({ amount_refunded: 0, refunded: false });
  });

  it('fails any refund on demand (control API), taking it off the charge’s amount_refunded', async () => {
    const pi = await paidIntent(2000);
    const first = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 });
    await stripe.refunds.create({ payment_intent: pi.id, amount: 300 });
    const response = await fetch(`${sim.url}/_simulator/refunds/${first.id}/fail`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ failureReason: 'lost_or_stolen_card' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ refund: { id: first.id, status: 'failed', failure_reason: 'lost_or_stolen_card' } });
    expect(sim.getCharge(pi.latest_charge as string)).toMatchObject({ amount_refunded: 300, refunded: false });
    // What failed can be refunded again.
    const again = await stripe.refunds.create({ payment_intent: pi.id });
    expect(again.amount).toBe(1700);
    expect(() => sim.failRefund(first.id)).toThrow(/cannot fail/);
    expect(() => sim.failRefund(again.id, 'because')).toThrow(/Invalid failure_reason/);
    expect((await fetch(`${sim.url}/_simulator/refunds/re_missing/fail`, { method: 'POST' })).status).toBe(404);
  });
});
