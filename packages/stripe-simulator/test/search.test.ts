import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_search_tests' });
  stripe = stripeClientFor(sim);
});
afterEach(() => sim.setSearchLag(0));
afterAll(() => sim.close());

const ids = (result: Stripe.ApiSearchResult<Stripe.PaymentIntent>) => result.data.map((pi) => pi.id);

describe('stripe.paymentIntents.search', () => {
  it('finds PaymentIntents by metadata, newest first, in Stripe’s search_result shape', async () => {
    const first = await stripe.paymentIntents.create({ amount: 1000, currency: 'nzd', metadata: { order_id: 'order-s1' } });
    const second = await stripe.paymentIntents.create({ amount: 1000, currency: 'nzd', metadata: { order_id: 'order-s1', attempt: '2' } });
    await stripe.paymentIntents.create({ amount: 1000, currency: 'nzd', metadata: { order_id: 'order-s2' } });
    const result = await stripe.paymentIntents.search({ query: "metadata['order_id']:'order-s1'" });
    expect(result).toMatchObject({ object: 'search_result', has_more: false, next_page: null, url: '/v1/payment_intents/search' });
    expect(ids(result)).toEqual([second.id, first.id]);
    expect(result.data[0]).toMatchObject({ object: 'payment_intent', client_secret: second.client_secret, metadata: { order_id: 'order-s1', attempt: '2' } });
    // Metadata values compare exactly.
    expect(ids(await stripe.paymentIntents.search({ query: "metadata['order_id']:'ORDER-S1'" }))).toEqual([]);
  });

  it('combines clauses with AND or OR, negates with -, compares numbers and matches status and currency', async () => {
    const paid = await stripe.paymentIntents.create({ amount: 2500, currency: 'aud', metadata: { order_id: 'order-s3' }, payment_method: 'pm_card_visa', confirm: true });
    const open = await stripe.paymentIntents.create({ amount: 900, currency: 'aud', metadata: { order_id: 'order-s3' } });
    const other = await stripe.paymentIntents.create({ amount: 900, currency: 'aud', metadata: { order_id: 'order-s4' } });
    const search = async (query: string) => ids(await stripe.paymentIntents.search({ query, limit: 100 }));
    expect(await search("metadata['order_id']:'order-s3' AND status:'succeeded'")).toEqual([paid.id]);
    expect(await search("metadata['order_id']:'order-s3' AND -status:'succeeded'")).toEqual([open.id]);
    expect(await search("metadata[\"order_id\"]:\"order-s3\" OR metadata['order_id']:'order-s4'")).toEqual([other.id, open.id, paid.id]);
    expect(await search("metadata['order_id']:'order-s3' AND amount>1000")).toEqual([paid.id]);
    expect(await search("metadata['order_id']:'order-s3' AND amount<=900 AND currency:'AUD'")).toEqual([open.id]);
    expect(await search("metadata['order_id']:'order-s4' AND metadata['attempt']:null")).toEqual([other.id]);
  });

  it('pages with next_page and counts with expand[]=total_count; the SDK auto-pages', async () => {
    const created = [];
    for (let i = 0; i < 5; i += 1) created.push(await stripe.paymentIntents.create({ amount: 700, currency: 'nzd', metadata: { order_id: 'order-paged' } }));
    const query = "metadata['order_id']:'order-paged'";
    const page1 = await stripe.paymentIntents.search({ query, limit: 2, expand: ['total_count'] });
    expect(page1).toMatchObject({ has_more: true, total_count: 5 });
    expect(page1.next_page).toEqual(expect.any(String));
    const page2 = await stripe.paymentIntents.search({ query, limit: 2, page: page1.next_page! });
    expect(ids(page2)).toEqual(created.slice(1, 3).reverse().map((pi) => pi.id));
    const all: string[] = [];
    for await (const pi of stripe.paymentIntents.search({ query, limit: 2 })) all.push(pi.id);
    expect(all).toEqual(created.map((pi) => pi.id).reverse());
  });

  it.each([
    ["metadata['order_id']:'x' AND status:'y' OR currency:'nzd'", /cannot combine AND and OR/],
    ["description:'milk'", /unsupported search field/],
    ["metadata['order_id']~'abc'", /not supported/],
    ["amount>'lots'", /takes an integer/],
    ["status>'succeeded'", /only supports exact match/],
    ["metadata['order_id']:'unterminated", /Unterminated string/],
    ["metadata['order_id']:'a' metadata['order_id']:'b'", /Expected AND or OR/],
  ])('answers 400 with param query to %s', async (query, message) => {
    const error = await stripe.paymentIntents.search({ query }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(error).toMatchObject({ statusCode: 400, param: 'query' });
    expect((error as Error).message).toMatch(message);
  });

  it('with a search lag (Stripe’s search is eventually consistent): new and changed PaymentIntents show up late', async () => {
    const before = await stripe.paymentIntents.create({ amount: 800, currency: 'nzd', metadata: { order_id: 'order-lag' } });
    sim.setSearchLag(60);
    const during = await stripe.paymentIntents.create({ amount: 800, currency: 'nzd', metadata: { order_id: 'order-lag' } });
    await stripe.paymentIntents.cancel(before.id);
    const query = "metadata['order_id']:'order-lag'";
    const now = await stripe.paymentIntents.search({ query });
    expect(ids(now)).toEqual([before.id]);
    expect(now.data[0]?.status).toBe('requires_payment_method'); // the cancel is not searchable yet
    // Retrieve is strongly consistent: that is what a read-after-write flow must use.
    expect((await stripe.paymentIntents.retrieve(during.id)).id).toBe(during.id);

    sim.advanceClock(60);
    const later = await stripe.paymentIntents.search({ query });
    expect(ids(later)).toEqual([during.id, before.id]);
    expect(later.data[1]?.status).toBe('canceled');
  });
});
