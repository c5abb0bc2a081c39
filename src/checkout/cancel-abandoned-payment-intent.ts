import type Stripe from 'stripe';

/**
 * Cancels a PaymentIntent nobody may pay any more (its order expired) with reason `abandoned`, the
 * reason apply_stripe_event reads as "expire the order". Stripe refuses (payment_intent_unexpected_state)
 * when it succeeded, is processing or was cancelled: https://docs.stripe.com/api/payment_intents/cancel.
 * No idempotency key of our own: Stripe saves a 500 under a key and replays it for 24 hours
 * (https://docs.stripe.com/api/idempotent_requests), so a fixed key would block the order's expiry
 * for a day; a cancel needs none, as cancelling again is refused and the caller handles that.
 */
export function cancelAbandonedPaymentIntent(
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'cancel'> },
  paymentIntentId: string,
): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.cancel(paymentIntentId, { cancellation_reason: 'abandoned' });
}
