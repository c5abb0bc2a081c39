import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { applyStripeEvent, type AppliedStripeEvent } from '../db/checkout-functions.ts';
import type { JobDeps } from './job-deps.ts';

const settledTypes: Partial<Record<Stripe.PaymentIntent.Status, string>> = {
  succeeded: 'payment_intent.succeeded',
  canceled: 'payment_intent.canceled',
};

/**
 * The PaymentIntent with its latest charge expanded: a refund made before the payment was confirmed
 * (its charge.refunded webhook missed too) shows there as `amount_refunded`, and apply_stripe_event
 * applies it with the payment, as if the webhooks had arrived.
 */
export function retrievePaymentIntent(deps: Pick<JobDeps, 'stripe'>, id: string): Promise<Stripe.PaymentIntent> {
  return deps.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] });
}

/**
 * Applies a PaymentIntent fetched from Stripe as if its webhook had arrived, through the same SQL
 * function (DESIGN.md, "a missed webhook"). The event id is derived from the PaymentIntent and its
 * state, so repeated runs (or the expiry and reconciliation jobs both) apply it once; the real event,
 * delivered later under its own id, then finds the order settled and is ignored.
 * Returns undefined for a state that settles nothing yet (processing, requires_action, …).
 */
export async function applyPaymentIntentState(pool: DatabasePool, paymentIntent: Stripe.PaymentIntent): Promise<AppliedStripeEvent | undefined> {
  const type = settledTypes[paymentIntent.status];
  if (!type) return undefined;
  return applyStripeEvent(pool, { id: `reconcile:${paymentIntent.id}:${paymentIntent.status}`, type, object: paymentIntent }, 'reconciliation');
}
