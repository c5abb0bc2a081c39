import Stripe from 'stripe';

/**
 * The official SDK, for real Stripe or for the simulator (same code path, another host).
 * The SDK retries network failures itself, reusing the idempotency key, which is what makes a
 * retried PaymentIntent creation safe.
 */
export function createStripeClient(options: { secretKey: string; apiUrl?: string; timeoutMs: number }): Stripe {
  const target = options.apiUrl ? new URL(options.apiUrl) : undefined;
  return new Stripe(options.secretKey, {
    maxNetworkRetries: 2,
    timeout: options.timeoutMs,
    appInfo: { name: 'checkout-service' },
    ...(target && {
      host: target.hostname,
      port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
      protocol: target.protocol.replace(':', '') as 'http' | 'https',
    }),
  });
}
