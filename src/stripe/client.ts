import Stripe from 'stripe';

/**
 * The SDK retries network failures (and the 409/5xx answers Stripe marks retryable) itself, with the
 * same idempotency key (https://docs.stripe.com/api/idempotent_requests): 3 attempts in all.
 */
export const STRIPE_MAX_NETWORK_RETRIES = 2;

/**
 * stripe-node's pause before retry n is min(0.5 s × 2^(n-1), 5 s) with jitter that only shortens it
 * (RequestSender._getSleepTimeInMS; the client exposes both bounds as getInitialNetworkRetryDelay()
 * and getMaxNetworkRetryDelay(), checked against these in test/stripe/client.test.ts).
 */
export const STRIPE_INITIAL_RETRY_DELAY_SECONDS = 0.5;
export const STRIPE_MAX_RETRY_DELAY_SECONDS = 5;

/**
 * The longest one SDK call can take before it gives up: every attempt runs into the timeout, with
 * the longest back-off between attempts. Whatever waits for a Stripe call (the checkout lease, the
 * expiry job's claim) must last at least this long.
 */
export function stripeCallWorstCaseMs(timeoutMs: number, maxNetworkRetries = STRIPE_MAX_NETWORK_RETRIES): number {
  let backoffSeconds = 0;
  for (let retry = 1; retry <= maxNetworkRetries; retry++) {
    backoffSeconds += Math.min(STRIPE_INITIAL_RETRY_DELAY_SECONDS * 2 ** (retry - 1), STRIPE_MAX_RETRY_DELAY_SECONDS);
  }
  return (maxNetworkRetries + 1) * timeoutMs + backoffSeconds * 1000;
}

/**
 * The official SDK, for real Stripe or for the simulator (same code path, another host).
 * The SDK retries network failures itself, reusing the idempotency key, which is what makes a
 * retried PaymentIntent creation safe.
 */
export function createStripeClient(options: { secretKey: string; apiUrl?: string; timeoutMs: number }): Stripe {
  const target = options.apiUrl ? new URL(options.apiUrl) : undefined;
  return new Stripe(options.secretKey, {
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    timeout: options.timeoutMs,
    appInfo: { name: 'checkout-service' },
    ...(target && {
      host: target.hostname,
      port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
      protocol: target.protocol.replace(':', '') as 'http' | 'https',
    }),
  });
}
