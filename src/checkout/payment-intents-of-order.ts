import type Stripe from 'stripe';

/**
 * Every PaymentIntent Stripe's search finds for an order (we set metadata.order_id on each). Search is
 * eventually consistent: "don't use search for read-after-write flows … data is searchable in under
 * 1 minute … could be delayed during an outage" (https://docs.stripe.com/search#data-freshness), so
 * what an attempt made seconds ago may be missing: the callers do not rely on finding it (a replayed
 * idempotency key, and the later sweep, cover that window). An order has a PaymentIntent per attempt
 * at most; the cap only bounds what a run may cost.
 */
export async function paymentIntentsOfOrder(
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'search'> },
  orderId: string,
): Promise<Stripe.PaymentIntent[]> {
  // Order ids are UUIDs (the database makes them), so the value needs no escaping in the query.
  const query = `metadata['order_id']:'${orderId}'`;
  return stripe.paymentIntents.search({ query, limit: 100 }).autoPagingToArray({ limit: MAX_PAYMENT_INTENTS_PER_ORDER });
}

export const MAX_PAYMENT_INTENTS_PER_ORDER = 1000;

/**
 * Statuses in which a PaymentIntent may still take money: it can be confirmed, is being confirmed,
 * or waits for capture (https://docs.stripe.com/payments/paymentintents/lifecycle). Two of these for
 * one order are what must never be: all but the attached one are cancelled.
 */
const payableStatuses: ReadonlySet<Stripe.PaymentIntent.Status> = new Set([
  'requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'requires_capture',
]);

export function isPayable(paymentIntent: Pick<Stripe.PaymentIntent, 'status'>): boolean {
  return payableStatuses.has(paymentIntent.status);
}

/** Statuses in which nobody has started paying: a new attempt may hand its client secret out. */
const reusableStatuses: ReadonlySet<Stripe.PaymentIntent.Status> = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action']);

/**
 * The PaymentIntent an attempt can reuse instead of creating one: the order's amount and currency, not
 * paid or being paid; the newest when there are several (the others are then cancelled).
 */
export function reusablePaymentIntent(
  paymentIntents: readonly Stripe.PaymentIntent[], order: { amountTotal: number; currency: string },
): Stripe.PaymentIntent | undefined {
  return paymentIntents
    .filter((pi) => reusableStatuses.has(pi.status) && pi.amount === order.amountTotal && pi.currency === order.currency)
    .sort((a, b) => b.created - a.created || (a.id < b.id ? -1 : 1))[0];
}
