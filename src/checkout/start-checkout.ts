import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { attachPaymentIntent, createOrder, releaseCheckoutLease, type NewOrder, type Order } from '../db/checkout-functions.ts';
import type { Logger } from '../log.ts';

export type CheckoutResult = { order: Order; clientSecret: string; outcome: 'created' | 'replayed' | 'resumed' };

/**
 * Stripe's idempotency key for the PaymentIntent of an order: every attempt for one order (a retry
 * after a timeout, a resumed request) asks Stripe for the same PaymentIntent, so one exists at most.
 */
export function paymentIntentIdempotencyKey(orderId: string): string {
  return `checkout-order-${orderId}`;
}

/**
 * Phase 1. The order is committed first (PENDING_PAYMENT, priced in SQL); only then is Stripe
 * called, outside any transaction; then the PaymentIntent id is attached. If Stripe fails the
 * order stays, its lease is released, and the client's retry with the same key resumes here.
 */
export async function startCheckout(
  deps: { pool: DatabasePool; stripe: Stripe; log: Logger },
  request: NewOrder,
): Promise<CheckoutResult> {
  const { outcome, order } = await createOrder(deps.pool, request);

  if (outcome === 'replayed' && order.paymentIntentId) {
    const paymentIntent = await deps.stripe.paymentIntents.retrieve(order.paymentIntentId);
    return { order, clientSecret: requireClientSecret(paymentIntent), outcome };
  }

  let paymentIntent: Stripe.PaymentIntent;
  try {
    paymentIntent = await deps.stripe.paymentIntents.create(
      {
        amount: order.amountTotal,
        currency: order.currency,
        metadata: { order_id: order.orderId },
        automatic_payment_methods: { enabled: true },
      },
      { idempotencyKey: paymentIntentIdempotencyKey(order.orderId) },
    );
  } catch (error) {
    await releaseCheckoutLease(deps.pool, order.orderId).catch((releaseError: unknown) =>
      // The lease then runs out by itself; the retry only has to wait for it.
      deps.log.warn({ err: releaseError, orderId: order.orderId }, 'could not release the checkout lease'),
    );
    throw error;
  }
  const attached = await attachPaymentIntent(deps.pool, order.orderId, paymentIntent.id);
  return { order: attached, clientSecret: requireClientSecret(paymentIntent), outcome };
}

function requireClientSecret(paymentIntent: Stripe.PaymentIntent): string {
  if (!paymentIntent.client_secret) throw new Error(`PaymentIntent ${paymentIntent.id} came without a client_secret`);
  return paymentIntent.client_secret;
}
