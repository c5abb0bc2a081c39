// The worst case of one SDK call, from which the checkout lease is derived (issue 9 item 5), rests
// on the SDK's own retry settings: these fail when an SDK upgrade changes them.
import { describe, expect, it } from '@jest/globals';
import {
  STRIPE_INITIAL_RETRY_DELAY_SECONDS, STRIPE_MAX_NETWORK_RETRIES, STRIPE_MAX_RETRY_DELAY_SECONDS, createStripeClient, stripeCallWorstCaseMs,
} from '../../src/stripe/client.ts';

describe('createStripeClient', () => {
  it('retries as stripeCallWorstCaseMs assumes', () => {
    const stripe = createStripeClient({ secretKey: 'sk_test_settings', timeoutMs: 10_000 });
    expect(stripe.getMaxNetworkRetries()).toBe(STRIPE_MAX_NETWORK_RETRIES);
    expect(stripe.getInitialNetworkRetryDelay()).toBe(STRIPE_INITIAL_RETRY_DELAY_SECONDS);
    expect(stripe.getMaxNetworkRetryDelay()).toBe(STRIPE_MAX_RETRY_DELAY_SECONDS);
  });
});

describe('stripeCallWorstCaseMs', () => {
  it('is every attempt running into the timeout plus the longest back-offs: 3 × 10 s + 0.5 s + 1 s', () => {
    expect(stripeCallWorstCaseMs(10_000)).toBe(31_500);
    expect(stripeCallWorstCaseMs(2_000)).toBe(7_500);
  });

  it('caps each back-off at the SDK\'s maximum delay', () => {
    // Retries 1..6: 0.5, 1, 2, 4, 5, 5 s.
    expect(stripeCallWorstCaseMs(1_000, 6)).toBe(7 * 1_000 + 17_500);
  });
});
