import type { ApiContext } from './api-context.ts';
import { StripeApiError, invalidParam, resourceMissing } from './errors.ts';
import { buildCharge, buildPaymentMethod, type PaymentIntent, type PaymentMethod } from './objects.ts';
import { optionalBoolean, optionalString, type Params } from './params.ts';
import { findTestCard, type TestCard } from './test-cards.ts';

export const CONFIRM_PARAMS: readonly string[] = [
  'payment_method', 'return_url', 'expand', 'receipt_email', 'off_session', 'error_on_requires_action',
  'use_stripe_sdk', 'client_secret', 'mandate_data', 'setup_future_usage',
  // Stripe.js sends it with every confirm from the Payment Element or a card form.
  'expected_payment_method_type',
];
const CONFIRMABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

/** Where a cardholder authenticates (Stripe's is on hooks.stripe.com; here it is the simulator's own page). */
export const AUTHENTICATION_PATH = '/3d_secure_2/hosted';

/** Stripe's answer when a card needing authentication is charged without the cardholder (off_session). */
const AUTHENTICATION_REQUIRED_DECLINE = {
  code: 'authentication_required', declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

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

function testCardOf(ctx: ApiContext, pm: PaymentMethod): TestCard | undefined {
  const source = ctx.store.paymentMethodSources.get(pm.id);
  return source !== undefined ? findTestCard(source) : undefined;
}

/**
 * Charges the PaymentIntent's card: succeeds, records the decline and throws Stripe's 402, or, for a
 * card that needs 3D Secure, stops at requires_action with the next_action the client must handle.
 */
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
  const expectedType = optionalString(params, 'expected_payment_method_type');
  if (expectedType !== undefined && expectedType !== 'card') {
    throw invalidParam('expected_payment_method_type', `The PaymentMethod is of type card, not ${expectedType}.`);
  }
  const returnUrl = optionalString(params, 'return_url');
  // The authentication page redirects there: only a web address, never javascript: or data:.
  if (returnUrl !== undefined && !/^https?:$/.test(URL.parse(returnUrl)?.protocol ?? '')) {
    throw invalidParam('return_url', 'Not a valid URL');
  }
  const pmParam = optionalString(params, 'payment_method');
  const pm = pmParam !== undefined
    ? resolvePaymentMethod(ctx, pmParam)
    : pi.payment_method !== null ? ctx.store.paymentMethods.get(pi.payment_method) : undefined;
  if (!pm) {
    throw invalidParam('payment_method', "You cannot confirm this PaymentIntent because it's missing a payment method. Update the PaymentIntent with a payment method and then confirm it again.", 'payment_intent_unexpected_state');
  }
  const card = testCardOf(ctx, pm);
  const receiptEmail = optionalString(params, 'receipt_email');
  if (receiptEmail !== undefined) pi.receipt_email = receiptEmail;
  if (card?.authenticationRequired) {
    // Nobody is there to authenticate: Stripe declines rather than waiting (docs.stripe.com/payments/3d-secure).
    const unattended = optionalBoolean(params, 'off_session') === true || optionalBoolean(params, 'error_on_requires_action') === true;
    if (unattended) return chargeCard(ctx, pi, pm, AUTHENTICATION_REQUIRED_DECLINE);
    return requireAuthentication(ctx, pi, pm, { returnUrl, useStripeSdk: optionalBoolean(params, 'use_stripe_sdk') === true });
  }
  chargeCard(ctx, pi, pm, card?.decline);
}

/**
 * 3D Secure: no charge yet. next_action says where the cardholder authenticates: redirect_to_url
 * when the client gave a return_url (docs.stripe.com/payments/3d-secure/authentication-flow, "handle
 * the redirect", or in an iframe), else use_stripe_sdk, which Stripe.js handles in its own modal.
 */
function requireAuthentication(ctx: ApiContext, pi: PaymentIntent, pm: PaymentMethod, options: { returnUrl: string | undefined; useStripeSdk: boolean }): void {
  const query = new URLSearchParams({ payment_intent: pi.id, payment_intent_client_secret: pi.client_secret });
  const url = `${ctx.origin}${AUTHENTICATION_PATH}?${query}`;
  pi.status = 'requires_action';
  pi.payment_method = pm.id;
  pi.last_payment_error = null;
  pi.next_action = options.returnUrl !== undefined && !options.useStripeSdk
    ? { type: 'redirect_to_url', redirect_to_url: { return_url: options.returnUrl, url } }
    : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url } };
  ctx.emit('payment_intent.requires_action', pi);
}

/**
 * What the cardholder did on the authentication page: completed, the card is charged (it may
 * still decline); failed, the PaymentIntent wants another PaymentMethod, with Stripe's
 * payment_intent_authentication_failure as last_payment_error and payment_intent.payment_failed.
 */
export function finishAuthentication(ctx: ApiContext, paymentIntentId: string, authenticated: boolean): PaymentIntent {
  // Read through the store inside the change, so the journal records what changes.
  const pi = ctx.store.paymentIntents.get(paymentIntentId);
  if (!pi) throw resourceMissing('payment_intent', paymentIntentId);
  const pm = pi.status === 'requires_action' && pi.payment_method !== null ? ctx.store.paymentMethods.get(pi.payment_method) : undefined;
  if (!pm) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error', code: 'payment_intent_unexpected_state',
      message: `This PaymentIntent has nothing to authenticate: its status is ${pi.status}.`,
    });
  }
  if (authenticated) {
    try {
      chargeCard(ctx, pi, pm, testCardOf(ctx, pm)?.decline);
    } catch (error) {
      // A decline after authentication is recorded on the PaymentIntent (last_payment_error) and in
      // its events; there is no API caller here to answer the 402 to.
      if (!(error instanceof StripeApiError) || error.status !== 402) throw error;
    }
    return pi;
  }
  pi.status = 'requires_payment_method';
  pi.payment_method = null;
  pi.next_action = null;
  pi.last_payment_error = {
    code: 'payment_intent_authentication_failure',
    doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
    message: 'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
    payment_method: structuredClone(pm),
    type: 'invalid_request_error',
  };
  ctx.emit('payment_intent.payment_failed', pi);
  return pi;
}

/** One charge of `pm` for the PaymentIntent: succeeded, or the decline recorded and thrown as Stripe's 402. */
function chargeCard(ctx: ApiContext, pi: PaymentIntent, pm: PaymentMethod, decline: TestCard['decline']): void {
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
