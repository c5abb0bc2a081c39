import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../../src/stripe-simulator/server.ts';
import { stripeClientFor } from '../../src/stripe-simulator/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_refund_tests' });
  stripe = stripeClientFor(sim);
});
afterAll(() => sim.close());

async function paidIntent(amount: number): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.create({ amount, currency: 'nzd', metadata: { order_id: `order-${amount}` }, payment_method: 'pm_card_visa', confirm: true });
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
});
