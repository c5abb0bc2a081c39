import Stripe from 'stripe';
import type { AttemptEnd, CheckoutAttempt, Order } from '../db/checkout-functions.ts';
import { isPayable, paymentIntentsOfOrder, reusablePaymentIntent } from './payment-intents-of-order.ts';

export type AttemptResult =
  /** `duplicates`: other payable PaymentIntents of the order, to cancel once this one is attached. */
  | { ok: true; paymentIntent: Stripe.PaymentIntent; reused: boolean; duplicates: Stripe.PaymentIntent[] }
  | { ok: false; end: AttemptEnd; detail: string; error: unknown };

/**
 * The PaymentIntent of one checkout attempt (migrations/0025 decides its key and whether to search):
 * - searchFirst (an earlier attempt failed with an answer Stripe keeps, or its key is old): what
 *   earlier attempts made is looked up with Stripe's search; a payable one for the order's amount is
 *   reused, else one is created under the attempt's new key. Search may lag behind an attempt made
 *   seconds ago (https://docs.stripe.com/search#data-freshness): such a PaymentIntent is then not
 *   found, a second one is created, and the sweep cancels the first once search shows it
 *   (src/jobs/sweep-orphan-payment-intents.ts). Its client secret was never handed out, so nobody can
 *   pay it meanwhile.
 * - otherwise the key is new (first attempt) or replays the previous attempt's, which got no answer:
 *   Stripe keeps what it did under the key, so the replay returns exactly that PaymentIntent, no
 *   matter how far search lags (https://docs.stripe.com/api/idempotent_requests).
 * The search results' statuses may lag too; an order's unattached PaymentIntents only change status
 * when someone with the secret key acts on them (their client secrets were never handed out), so a
 * lagging status is not a risk here.
 */
export async function paymentIntentForAttempt(
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'create' | 'search'> },
  order: Pick<Order, 'orderId' | 'amountTotal' | 'currency'>,
  attempt: CheckoutAttempt,
): Promise<AttemptResult> {
  let found: Stripe.PaymentIntent[] = [];
  if (attempt.searchFirst) {
    try {
      found = await paymentIntentsOfOrder(stripe, order.orderId);
    } catch (error) {
      // The attempt's key was never sent: the next attempt takes a new one and searches again.
      return { ok: false, end: 'stripe_error', detail: `search failed: ${describeStripeError(error)}`, error };
    }
    const reusable = reusablePaymentIntent(found, order);
    if (reusable) return { ok: true, paymentIntent: reusable, reused: true, duplicates: othersPayable(found, reusable.id) };
  }
  try {
    const created = await stripe.paymentIntents.create(
      {
        amount: order.amountTotal,
        currency: order.currency,
        metadata: { order_id: order.orderId },
        automatic_payment_methods: { enabled: true },
      },
      { idempotencyKey: attempt.idempotencyKey },
    );
    return { ok: true, paymentIntent: created, reused: false, duplicates: othersPayable(found, created.id) };
  } catch (error) {
    return { ok: false, end: attemptEndAfter(error), detail: describeStripeError(error), error };
  }
}

const othersPayable = (found: readonly Stripe.PaymentIntent[], keep: string) => found.filter((pi) => pi.id !== keep && isPayable(pi));

/**
 * What a failed create leaves under its idempotency key. Stripe saves the answer once the endpoint
 * began to execute, 500s included; a request refused by the rate limiter (429) or in conflict with a
 * concurrent one under the same key (409) is not saved, and without an answer (timeout, network) it
 * is unknown whether Stripe created the PaymentIntent (https://docs.stripe.com/idempotency,
 * https://docs.stripe.com/error-low-level). Only a replay of the key tells, so the next attempt
 * replays it ('unfinished'); after an answer Stripe keeps, it takes a new key ('stripe_error').
 */
export function attemptEndAfter(error: unknown): AttemptEnd {
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeRateLimitError) return 'unfinished';
  if (error instanceof Stripe.errors.StripeError && error.statusCode !== undefined && error.statusCode !== 409) return 'stripe_error';
  return 'unfinished';
}

/** For the attempt's row (checkout.checkout_attempts.detail): what Stripe said, without secrets. */
export function describeStripeError(error: unknown): string {
  if (error instanceof Stripe.errors.StripeError) {
    return [error.type, error.statusCode, error.code, error.requestId].filter((part) => part !== undefined && part !== null).join(' ');
  }
  return error instanceof Error ? error.message : String(error);
}
