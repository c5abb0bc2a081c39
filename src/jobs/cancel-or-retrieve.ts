import Stripe from 'stripe';
import { retrievePaymentIntent } from './apply-payment-intent-state.ts';
import type { JobDeps } from './job-deps.ts';

/**
 * Cancels a PaymentIntent with `cancel`; when Stripe refuses because of its state (it succeeded, is
 * processing, or was cancelled already: https://docs.stripe.com/api/payment_intents/cancel), asks
 * what it is now instead. Any other failure is thrown.
 */
export async function cancelOrRetrieve(
  deps: Pick<JobDeps, 'stripe'>,
  paymentIntentId: string,
  cancel: (stripe: JobDeps['stripe'], paymentIntentId: string) => Promise<Stripe.PaymentIntent>,
): Promise<Stripe.PaymentIntent> {
  try {
    return await cancel(deps.stripe, paymentIntentId);
  } catch (error) {
    if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state')) throw error;
    return retrievePaymentIntent(deps, paymentIntentId);
  }
}
