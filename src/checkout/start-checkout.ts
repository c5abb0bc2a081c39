import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { attachPaymentIntent, createOrder, endCheckoutAttempt, type AttemptEnd, type CheckoutOrder, type NewOrder } from '../db/checkout-functions.ts';
import type { Logger } from '../log.ts';
import { cancelAbandonedPaymentIntent } from './cancel-abandoned-payment-intent.ts';
import { cancelDuplicatePaymentIntent } from './cancel-duplicate-payment-intent.ts';
import { paymentIntentForAttempt } from './payment-intent-for-attempt.ts';

export type CheckoutResult =
  /** clientSecret is absent once the order is paid: there is nothing left to pay with it. */
  | { outcome: 'created' | 'replayed' | 'resumed'; order: CheckoutOrder; clientSecret: string | undefined }
  /** The key of a CANCELLED, EXPIRED or REFUNDED order: the same refusal every time. */
  | { outcome: 'closed'; order: CheckoutOrder };

/**
 * Phase 1. The order is committed first (PENDING_PAYMENT, priced in SQL) with this request holding
 * its checkout lease and an attempt (migrations/0025: the Stripe idempotency key, whether to search);
 * only then is Stripe called, outside any transaction; then the PaymentIntent is attached with the
 * lease's token. If Stripe fails the order stays, the attempt's end is recorded and the lease
 * released, and the client's retry with the same key resumes with the next attempt.
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

  const { order, checkoutToken, attempt } = created;
  const log = deps.log.child({ orderId: order.orderId, attempt: attempt.number });
  const endAttempt = (end: AttemptEnd, detail: string) =>
    endCheckoutAttempt(deps.pool, order.orderId, checkoutToken, end, detail).catch((error: unknown) =>
      // The lease then runs out by itself, and the next attempt finds this one unfinished.
      log.warn({ err: error }, 'could not record the end of the checkout attempt'));

  const got = await paymentIntentForAttempt(deps.stripe, order, attempt);
  if (!got.ok) {
    await endAttempt(got.end, got.detail);
    throw got.error;
  }
  const { paymentIntent, duplicates } = got;
  if (got.reused) log.info({ paymentIntentId: paymentIntent.id }, 'checkout attempt reuses a PaymentIntent of an earlier attempt');

  const attached = await attachPaymentIntent(deps.pool, order.orderId, paymentIntent.id, checkoutToken).catch(async (error: unknown) => {
    // The PaymentIntent exists under the attempt's key: the next attempt replays it and gets it again.
    await endAttempt('unfinished', `attach failed: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  });
  if (attached.outcome === 'closed') {
    // The order was closed while this request waited on Stripe: no client may get a secret for it,
    // and the PaymentIntent is cancelled so that nobody can pay it either.
    await cancelAbandonedPaymentIntent(deps.stripe, paymentIntent.id).catch((cancelError: unknown) =>
      log.warn({ err: cancelError, paymentIntentId: paymentIntent.id }, 'could not cancel the PaymentIntent of a closed order'),
    );
  }
  await cancelDuplicates(deps.stripe, duplicates, log);
  if (attached.outcome === 'closed') return { outcome: 'closed', order: attached.order };
  const clientSecret = attached.order.status === 'PENDING_PAYMENT' ? requireClientSecret(paymentIntent) : undefined;
  return { outcome: created.outcome, order: attached.order, clientSecret };
}

/**
 * The order has its PaymentIntent now (or is closed), so the others found for it may go. One that
 * cannot be cancelled now is left to the sweep, which this attempt's failed predecessor scheduled.
 */
async function cancelDuplicates(stripe: Stripe, duplicates: readonly Stripe.PaymentIntent[], log: Logger): Promise<void> {
  for (const duplicate of duplicates) {
    await cancelDuplicatePaymentIntent(stripe, duplicate.id).then(
      () => log.info({ paymentIntentId: duplicate.id }, 'cancelled a duplicate PaymentIntent of the order'),
      (error: unknown) => log.warn({ err: error, paymentIntentId: duplicate.id }, 'could not cancel a duplicate PaymentIntent; the sweep will'),
    );
  }
}

function requireClientSecret(paymentIntent: Stripe.PaymentIntent): string {
  if (!paymentIntent.client_secret) throw new Error(`PaymentIntent ${paymentIntent.id} came without a client_secret`);
  return paymentIntent.client_secret;
}
