import { stripeCallWorstCaseMs } from '../stripe/client.ts';

/**
 * After Stripe answers, the holder still writes to the database: at most the pool's connectionTimeout
 * (5 s, src/db/pool.ts) waiting for a connection, then one short statement.
 */
export const DATABASE_ALLOWANCE_MS = 5_000;

/**
 * A lease that covers `stripeCalls` consecutive SDK calls at their worst (STRIPE_TIMEOUT_MS on every
 * attempt, the longest back-offs) and the database write after them, in whole seconds. A shorter
 * lease could run out while its holder still waits on Stripe, and a second request would take over
 * a live checkout (issue 9, item 5).
 */
export function leaseSecondsCovering(stripeCalls: number, stripeTimeoutMs: number): number {
  return Math.ceil((stripeCalls * stripeCallWorstCaseMs(stripeTimeoutMs) + DATABASE_ALLOWANCE_MS) / 1000);
}

/**
 * POST /checkout makes at most two Stripe calls while it holds the lease: a resume after a failed
 * attempt searches the order's PaymentIntents, then creates one (src/checkout/payment-intent-for-attempt.ts).
 * Duplicates are cancelled after the lease has ended with the attach.
 */
export const minimumCheckoutLeaseSeconds = (stripeTimeoutMs: number) => leaseSecondsCovering(2, stripeTimeoutMs);

/** The expiry job cancels the PaymentIntent and, when Stripe refuses, retrieves it: two calls. */
export const expiryClaimSeconds = (stripeTimeoutMs: number) => leaseSecondsCovering(2, stripeTimeoutMs);
