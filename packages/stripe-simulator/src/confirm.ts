import type { ApiContext } from './api-context.ts';
import { StripeApiError, invalidParam, resourceMissing } from './errors.ts';
import { buildCharge, buildPaymentMethod, type PaymentIntent, type PaymentMethod } from './objects.ts';
import { optionalString, type Params } from './params.ts';
import { findTestCard } from './test-cards.ts';

export const CONFIRM_PARAMS: readonly string[] = [
  'payment_method', 'return_url', 'expand', 'receipt_email', 'off_session', 'error_on_requires_action',
  'use_stripe_sdk', 'client_secret', 'mandate_data', 'setup_future_usage',
];
const CONFIRMABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

/**
 * A test PaymentMethod id (pm_card_visa) yields a fresh pm_… each time, as on Stripe; an id this
 * simulator created earlier is reused.
 */
export function resolvePaymentMethod(ctx: ApiContext, id: string): PaymentMethod {
  const existing = ctx.store.paymentMethods.get(id);
  if (existing) return existing;
  const card = findTestCard(id);
  if (!card) throw resourceMissing('PaymentMethod', id, 'payment_method');
  const pm = buildPaymentMethod(card, ctx.now());
  ctx.store.paymentMethods.set(pm.id, pm);
  ctx.store.paymentMethodSources.set(pm.id, id);
  return pm;
}

/** Charges the PaymentIntent's card: succeeds, or records the decline and throws Stripe's 402. */
export function confirmPaymentIntent(ctx: ApiContext, pi: PaymentIntent, params: Params): void {
  if (!CONFIRMABLE.includes(pi.status)) {
    const message = pi.status === 'succeeded'
      ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
      : `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`;
    throw new StripeApiError(400, {
      type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message, payment_intent: structuredClone(pi),
    });
  }
  const clientSecret = optionalString(params, 'client_secret');
  if (clientSecret !== undefined && clientSecret !== pi.client_secret) {
    throw invalidParam('client_secret', 'The client_secret provided does not match the client_secret associated with the PaymentIntent.');
  }
  const pmParam = optionalString(params, 'payment_method');
  const pm = pmParam !== undefined
    ? resolvePaymentMethod(ctx, pmParam)
    : pi.payment_method !== null ? ctx.store.paymentMethods.get(pi.payment_method) : undefined;
  if (!pm) {
    throw invalidParam('payment_method', "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a payment method and then confirm it again.", 'payment_intent_unexpected_state');
  }
  const source = ctx.store.paymentMethodSources.get(pm.id);
  const decline = source !== undefined ? findTestCard(source)?.decline : undefined;
  const receiptEmail = optionalString(params, 'receipt_email');
  if (receiptEmail !== undefined) pi.receipt_email = receiptEmail;
  const charge = buildCharge(pi, pm, ctx.now(), decline);
  ctx.store.charges.set(charge.id, charge);
  pi.latest_charge = charge.id;
  pi.next_action = null;
  if (decline === undefined) {
    pi.status = 'succeeded';
    pi.payment_method = pm.id;
    pi.amount_received = pi.amount;
    pi.last_payment_error = null;
    ctx.emit('charge.succeeded', charge);
    ctx.emit('payment_intent.succeeded', pi);
    return;
  }
  // Stripe detaches the failed PaymentMethod and puts the intent back to collect another one.
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.last_payment_error = {
    charge: charge.id,
    code: decline.code,
    decline_code: decline.declineCode,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll('_', '-')}`,
    message: decline.message,
    payment_method: structuredClone(pm),
    type: 'card_error',
  };
  ctx.emit('charge.failed', charge);
  ctx.emit('payment_intent.payment_failed', pi);
  throw new StripeApiError(402, {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    charge: charge.id,
    payment_intent: structuredClone(pi),
    payment_method: structuredClone(pm),
  });
}
