import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { attachPaymentIntent, createOrder, releaseCheckoutLease, type CheckoutOrder, type NewOrder } from '../db/checkout-functions.ts';
import type { Logger } from '../log.ts';
import { cancelAbandonedPaymentIntent } from './cancel-abandoned-payment-intent.ts';

export type CheckoutResult =
  /** clientSecret is absent once the order is paid: there is nothing left to pay with it. */
  | { outcome: 'created' | 'replayed' | 'resumed'; order: CheckoutOrder; clientSecret: string | undefined }
  /** The key of a CANCELLED, EXPIRED or REFUNDED order: the same refusal every time. */
  | { outcome: 'closed'; order: CheckoutOrder };

/**
 * Stripe's idempotency key for the PaymentIntent of an order: every attempt for one order (a retry
 * after a timeout, a resumed request) asks Stripe for the same PaymentIntent, so one exists at most.
 */
export function paymentIntentIdempotencyKey(orderId: string): string {
  return `checkout-order-${orderId}`;
}

/**
 * Phase 1. The order is committed first (PENDING_PAYMENT, priced in SQL) with this request holding
 * its checkout lease; only then is Stripe called, outside any transaction; then the PaymentIntent is
 * attached with the lease's token. If Stripe fails the order stays, the lease is released, and the
 * client's retry with the same key resumes here.
 */
export async function startCheckout(
  deps: { pool: DatabasePool; stripe: Stripe; log: Logger },
  request: NewOrder,
): Promise<CheckoutResult> {
  const created = await createOrder(deps.pool, request);
  if (created.outcome === 'closed') return created;
  if (created.outcome === 'replayed') {
    const { order } = created;
    if (order.status !== 'PENDING_PAYMENT' || !order.paymentIntentId) return { outcome: 'replayed', order, clientSecret: undefined };
    const paymentIntent = await deps.stripe.paymentIntents.retrieve(order.paymentIntentId);
    return { outcome: 'replayed', order, clientSecret: requireClientSecret(paymentIntent) };
  }

  const { order, checkoutToken } = created;
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
    await releaseCheckoutLease(deps.pool, order.orderId, checkoutToken).catch((releaseError: unknown) =>
      // The lease then runs out by itself; the retry only has to wait for it.
      deps.log.warn({ err: releaseError, orderId: order.orderId }, 'could not release the checkout lease'),
    );
    throw error;
  }

  const attached = await attachPaymentIntent(deps.pool, order.orderId, paymentIntent.id, checkoutToken);
  if (attached.outcome === 'closed') {
    // The order was closed while this request waited on Stripe: no client may get a secret for it,
    // and the PaymentIntent is cancelled so that nobody can pay it either.
    await cancelAbandonedPaymentIntent(deps.stripe, paymentIntent.id).catch((cancelError: unknown) =>
      deps.log.warn({ err: cancelError, orderId: order.orderId, paymentIntentId: paymentIntent.id }, 'could not cancel the PaymentIntent of a closed order'),
    );
    return { outcome: 'closed', order: attached.order };
  }
  const clientSecret = attached.order.status === 'PENDING_PAYMENT' ? requireClientSecret(paymentIntent) : undefined;
  return { outcome: created.outcome, order: attached.order, clientSecret };
}

function requireClientSecret(paymentIntent: Stripe.PaymentIntent): string {
  if (!paymentIntent.client_secret) throw new Error(`PaymentIntent ${paymentIntent.id} came without a client_secret`);
  return paymentIntent.client_secret;
}
