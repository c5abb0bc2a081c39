import type Stripe from 'stripe';

/**
 * Cancels a PaymentIntent of an order that is not the order's own (an earlier checkout attempt made
 * it and its answer was lost, or a 500 hid it) with reason `duplicate`
 * (https://docs.stripe.com/api/payment_intents/cancel). Only ever called once the order has another
 * PaymentIntent attached, or is closed: apply_stripe_event then ignores its payment_intent.canceled,
 * where for a pending order without one it would cancel the order. No idempotency key, as in
 * cancelAbandonedPaymentIntent: a repeated cancel is refused (payment_intent_unexpected_state).
 */
export function cancelDuplicatePaymentIntent(
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'cancel'> },
  paymentIntentId: string,
): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.cancel(paymentIntentId, { cancellation_reason: 'duplicate' });
}
