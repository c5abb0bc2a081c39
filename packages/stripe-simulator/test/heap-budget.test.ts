import { afterEach, describe, expect, it } from '@jest/globals';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Stripe from 'stripe';
import { HeapBudget } from '../src/heap-budget.ts';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

// A full collection on demand: the budget is judged on the heap in use after one.
setFlagsFromString('--expose-gc');
const fullCollection = runInNewContext('gc') as () => void;
const afterFullCollection = async () => {
  fullCollection();
  // The GC's performance entry reaches observers a moment later.
  await new Promise((resolve) => setTimeout(resolve, 50));
};

const sims: StripeSimulator[] = [];
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.close();
});
const start = async (heapBudgetFraction?: number) => {
  const sim = await startStripeSimulator({ webhookSecret: 'whsec_heap', ...(heapBudgetFraction !== undefined && { heapBudgetFraction }) });
  sims.push(sim);
  return { sim, stripe: stripeClientFor(sim) };
};

describe('the heap budget', () => {
  it('past it, refuses to create (a 500 not kept under the key, not to be retried) and still answers reads', async () => {
    const { sim, stripe } = await start(0);
    await afterFullCollection();
    const error = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' }, { idempotencyKey: 'full-1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, code: 'simulator_memory_full', headers: expect.objectContaining({ 'stripe-should-retry': 'false' }) });
    expect((error as Error).message).toMatch(/^The Stripe simulator is full: .* \d+ of its \d+ MiB are in use after a full collection/);
    expect(sim.listPaymentIntents()).toHaveLength(0);
    expect((await stripe.paymentIntents.list()).data).toEqual([]);
    // The SDK made one attempt: Stripe-Should-Retry: false.
    expect(sim.requestLog.filter((entry) => entry.method === 'POST')).toHaveLength(1);
  });

  it('with room (the default share of the heap), creates as before', async () => {
    const { sim, stripe } = await start();
    await afterFullCollection();
    expect(await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' })).toMatchObject({ status: 'requires_payment_method' });
    expect(sim.listPaymentIntents()).toHaveLength(1);
  });

  it('refuses a share outside 0 to 1', () => {
    for (const fraction of [-0.1, 1.5, Number.NaN]) expect(() => new HeapBudget(fraction)).toThrow('heapBudgetFraction must be between 0 and 1');
  });
});
