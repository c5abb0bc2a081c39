// Issue 9 item 5: the checkout lease outlasts the Stripe call it guards, and a configuration that
// would not is refused at start.
import { describe, expect, it } from '@jest/globals';
import { expiryClaimSeconds, minimumCheckoutLeaseSeconds } from '../../src/checkout/checkout-lease.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { stripeCallWorstCaseMs } from '../../src/stripe/client.ts';

const base = { DATABASE_URL: 'postgres://localhost/checkout' };

describe('the checkout lease', () => {
  it('covers two Stripe calls at their worst (a resume searches, then creates) and the attach after them', () => {
    expect(minimumCheckoutLeaseSeconds(10_000)).toBe(68); // 2 x 31.5 s at Stripe + 5 s for the database
    expect(minimumCheckoutLeaseSeconds(10_000) * 1000).toBeGreaterThanOrEqual(2 * stripeCallWorstCaseMs(10_000));
    // The expiry job cancels, then may retrieve: two calls.
    expect(expiryClaimSeconds(10_000)).toBe(68);
  });

  it('defaults to that minimum, following STRIPE_TIMEOUT_MS', () => {
    expect(loadConfig(base).CHECKOUT_LEASE_SECONDS).toBe(68);
    expect(loadConfig({ ...base, STRIPE_TIMEOUT_MS: '2000' }).CHECKOUT_LEASE_SECONDS).toBe(20);
    expect(loadConfig({ ...base, CHECKOUT_LEASE_SECONDS: '90' }).CHECKOUT_LEASE_SECONDS).toBe(90);
  });

  it('shorter than the Stripe calls can take: refused at start, naming both variables', () => {
    const refuse = (env: Record<string, string>) => () => loadConfig({ ...base, ...env });
    expect(refuse({ CHECKOUT_LEASE_SECONDS: '30' })).toThrow(ConfigError);
    expect(refuse({ CHECKOUT_LEASE_SECONDS: '30' })).toThrow(/CHECKOUT_LEASE_SECONDS: 30 s is shorter .* STRIPE_TIMEOUT_MS=10000 .* at least 68/);
    expect(refuse({ CHECKOUT_LEASE_SECONDS: '67', STRIPE_TIMEOUT_MS: '10000' })).toThrow(/at least 68/);
    expect(loadConfig({ ...base, CHECKOUT_LEASE_SECONDS: '30', STRIPE_TIMEOUT_MS: '3000' }).CHECKOUT_LEASE_SECONDS).toBe(30);
  });
});
