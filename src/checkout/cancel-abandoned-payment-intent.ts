import type Stripe from 'stripe';

/** Same key on every attempt for one PaymentIntent: a caller that died after the cancel replays it. */
export function cancelIdempotencyKey(paymentIntentId: string): string {
  return `expire-abandoned-${paymentIntentId}`;
}

/**
 * Cancels a PaymentIntent nobody may pay any more (its order expired) with reason `abandoned`, the
 * reason apply_stripe_event reads as "expire the order". Stripe refuses (payment_intent_unexpected_state)
 * when it succeeded, is processing or was cancelled: https://docs.stripe.com/api/payment_intents/cancel.
 */
export function cancelAbandonedPaymentIntent(
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'cancel'> },
  paymentIntentId: string,
): Promise<Stripe.PaymentIntent> {
  return stripe.paymentIntents.cancel(
    paymentIntentId,
    { cancellation_reason: 'abandoned' },
    { idempotencyKey: cancelIdempotencyKey(paymentIntentId) },
  );
}
