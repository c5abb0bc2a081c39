import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { basket, postCheckout, startTestService, type TestService } from '../support/service.ts';
import { waitUntil } from '../support/wait.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());
beforeEach(() => service.simulator.faults.clear());

const key = () => `key-${randomUUID()}`;
const countOrders = () => service.db.admin.oneFirst(sql.type(z.object({ n: z.number() }))`select count(*)::int as n from checkout.orders`);
const paymentIntentsFor = (orderId: string) =>
  service.simulator.listPaymentIntents().filter((pi) => pi.metadata.order_id === orderId);

describe('POST /checkout', () => {
  it('creates a PENDING_PAYMENT order priced from the catalog and its PaymentIntent', async () => {
    const response = await postCheckout(service, { customerId: 'c-123', items: [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(201);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    const body = response.body;
    expect(body).toEqual({
      orderId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'PENDING_PAYMENT',
      currency: 'nzd',
      amountTotal: 2 * 599 + 899,
      lines: [
        { sku: 'EGGS-12', name: 'Free range eggs, dozen', quantity: 1, unitAmount: 899, lineTotal: 899 },
        { sku: 'MILK-2L', name: 'Fresh milk 2L', quantity: 2, unitAmount: 599, lineTotal: 1198 },
      ],
      paymentIntentId: expect.stringMatching(/^pi_/),
      clientSecret: expect.stringMatching(/^pi_.+_secret_.+/),
    });
    expect(response.headers.get('location')).toBe(`/orders/${body.orderId}`);
    const [pi] = paymentIntentsFor(body.orderId);
    expect(pi).toMatchObject({ id: body.paymentIntentId, amount: 2097, currency: 'nzd', client_secret: body.clientSecret, automatic_payment_methods: { enabled: true } });
    const create = service.simulator.requestLog.find((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.status === 200 && r.idempotencyKey === `checkout-order-${body.orderId}-1`);
    expect(create).toBeDefined();
    const stored = await service.db.admin.one(sql.unsafe`select status, payment_intent_id, amount_total::int as amount_total, checkout_lease_until from checkout.orders where id = ${body.orderId}`);
    expect(stored).toEqual({ status: 'PENDING_PAYMENT', payment_intent_id: body.paymentIntentId, amount_total: 2097, checkout_lease_until: null });
  });

  it('replays the same order and clientSecret for the same key and body, with no second PaymentIntent', async () => {
    const k = key();
    const first = await postCheckout(service, basket, { 'idempotency-key': k });
    const before = await countOrders();
    const again = await postCheckout(service, { ...basket, items: [...basket.items] }, { 'idempotency-key': k });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await countOrders()).toBe(before);
    expect(paymentIntentsFor(first.body.orderId)).toHaveLength(1);
  });

  it('refuses the same key with a different body (422) and changes nothing', async () => {
    const k = key();
    await postCheckout(service, basket, { 'idempotency-key': k });
    const before = await countOrders();
    const other = await postCheckout(service, { ...basket, items: [{ sku: 'MILK-2L', quantity: 3 }] }, { 'idempotency-key': k });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(other.body).toMatchObject({ status: 422, type: '/problems/idempotency-key-reused' });
    expect(await countOrders()).toBe(before);
  });

  it('answers 409 to the same key while the first request still runs, then one order and one PaymentIntent', async () => {
    const k = key();
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'stall', ms: 1500 });
    const first = postCheckout(service, basket, { 'idempotency-key': k });
    // Wait until the first request is at Stripe (its order exists and holds the lease).
    await waitUntil('the first request holds the order', async () => (await service.db.admin.maybeOneFirst(sql.unsafe`select id from checkout.orders where idempotency_key = ${k}`)) !== null);
    const concurrent = await Promise.all([1, 2, 3].map(() => postCheckout(service, basket, { 'idempotency-key': k })));
    expect(concurrent.map((r) => r.status)).toEqual([409, 409, 409]);
    expect(concurrent[0]!.body).toMatchObject({ type: '/problems/request-in-progress' });
    const done = await first;
    expect(done.status).toBe(201);
    const orders = await service.db.admin.anyFirst(sql.unsafe`select id from checkout.orders where idempotency_key = ${k}`);
    expect(orders).toEqual([done.body.orderId]);
    expect(paymentIntentsFor(done.body.orderId)).toHaveLength(1);
    const replay = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(replay.body.clientSecret).toBe(done.body.clientSecret);
  });

  // Stripe saves the 500 under the attempt's idempotency key and replays it for 24 hours, so the
  // retry is a new attempt under a new key (issue 9, item 1; test/checkout/checkout-attempts.test.ts).
  it('keeps the order when Stripe fails (502), and the retry with the same key resumes it', async () => {
    const k = key();
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, times: 'always' });
    const failed = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(failed.status).toBe(502);
    expect(failed.body).toMatchObject({ type: '/problems/payment-provider-error' });
    const kept = await service.db.admin.one(sql.type(z.object({ id: z.string(), status: z.string(), payment_intent_id: z.string().nullable(), checkout_lease_until: z.unknown() }))`
      select id, status, payment_intent_id, checkout_lease_until from checkout.orders where idempotency_key = ${k}`);
    expect(kept).toMatchObject({ status: 'PENDING_PAYMENT', payment_intent_id: null, checkout_lease_until: null });
    expect(paymentIntentsFor(kept.id)).toHaveLength(0);

    service.simulator.faults.clear();
    const resumed = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ orderId: kept.id, status: 'PENDING_PAYMENT', clientSecret: expect.stringMatching(/^pi_/) });
    expect(paymentIntentsFor(kept.id).map((pi) => pi.id)).toEqual([resumed.body.paymentIntentId]);
    const creates = service.simulator.requestLog.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey?.startsWith(`checkout-order-${kept.id}`));
    expect(creates.map((r) => [r.idempotencyKey, r.status])).toEqual([[`checkout-order-${kept.id}-1`, 500], [`checkout-order-${kept.id}-2`, 200]]);
  });

  it('answers 503 when Stripe rate-limits (429, nothing saved under the key), and the retry with the same key resumes the order', async () => {
    const k = key();
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 429, times: 'always' });
    const limited = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(limited.status).toBe(503);
    expect(limited.body).toMatchObject({ type: '/problems/payment-provider-unavailable' });
    const kept = await service.db.admin.oneFirst(sql.type(z.object({ id: z.string() }))`select id from checkout.orders where idempotency_key = ${k}`);

    service.simulator.faults.clear();
    const resumed = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(resumed.status).toBe(201);
    expect(resumed.body.orderId).toBe(kept);
    expect(paymentIntentsFor(kept)).toHaveLength(1);
  });

  it('answers 503 when Stripe cannot be reached, and the retry ends with one PaymentIntent', async () => {
    const k = key();
    // The answer is lost after Stripe created the PaymentIntent: the worst case for duplicates.
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'drop', when: 'after', times: 'always' });
    const failed = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ type: '/problems/payment-provider-unavailable' });
    expect(failed.headers.get('retry-after')).toBe('5');
    service.simulator.faults.clear();
    const resumed = await postCheckout(service, basket, { 'idempotency-key': k });
    expect(resumed.status).toBe(201);
    expect(paymentIntentsFor(resumed.body.orderId)).toHaveLength(1);
    expect(resumed.body.paymentIntentId).toBe(paymentIntentsFor(resumed.body.orderId)[0]!.id);
  });

  it('creates exactly one order and one PaymentIntent for many concurrent requests under one key', async () => {
    const k = key();
    const responses = await Promise.all(Array.from({ length: 10 }, () => postCheckout(service, basket, { 'idempotency-key': k })));
    const created = responses.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const orders = await service.db.admin.anyFirst(sql.unsafe`select id from checkout.orders where idempotency_key = ${k}`);
    expect(orders).toHaveLength(1);
    expect(new Set(created.map((r) => r.body.orderId))).toEqual(new Set(orders));
    expect(paymentIntentsFor(String(orders[0]))).toHaveLength(1);
  });
});

describe('POST /checkout refuses bad input with a problem document and changes nothing', () => {
  const cases: Array<[string, unknown, Record<string, string>, number, string[]]> = [
    ['no Idempotency-Key', basket, {}, 400, ['Idempotency-Key']],
    ['an Idempotency-Key of 256 characters', basket, { 'idempotency-key': 'k'.repeat(256) }, 400, ['Idempotency-Key']],
    ['no customerId', { items: basket.items }, { 'idempotency-key': 'x' }, 400, ['customerId']],
    ['a customerId of 65 characters', { ...basket, customerId: 'c'.repeat(65) }, { 'idempotency-key': 'x' }, 400, ['customerId']],
    ['no items', { customerId: 'c-1', items: [] }, { 'idempotency-key': 'x' }, 400, ['items']],
    ['101 items', { customerId: 'c-1', items: Array.from({ length: 101 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) }, { 'idempotency-key': 'x' }, 400, ['items']],
    ['quantities 0, 1000 and 1.5', { customerId: 'c-1', items: [{ sku: 'A', quantity: 0 }, { sku: 'B', quantity: 1000 }, { sku: 'C', quantity: 1.5 }] }, { 'idempotency-key': 'x' }, 400, ['items[0].quantity', 'items[1].quantity', 'items[2].quantity']],
    ['a SKU twice', { customerId: 'c-1', items: [{ sku: 'MILK-2L', quantity: 1 }, { sku: 'MILK-2L', quantity: 1 }] }, { 'idempotency-key': 'x' }, 400, ['items']],
    ['an upper-case currency', { ...basket, currency: 'NZD' }, { 'idempotency-key': 'x' }, 400, ['currency']],
    ['a price in the request', { ...basket, amountTotal: 1 }, { 'idempotency-key': 'x' }, 400, ['amountTotal']],
    ['an array body', [basket], { 'idempotency-key': 'x' }, 400, ['(body)']],
  ];

  it.each(cases)('%s → a 400 naming the fields', async (_name, body, headers, status, fields) => {
    const before = await countOrders();
    const response = await postCheckout(service, body, headers);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: '/problems/validation-error', title: expect.any(String), status, detail: expect.any(String) });
    expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(fields));
    expect(await countOrders()).toBe(before);
  });

  it('names every bad field at once', async () => {
    const response = await postCheckout(service, { customerId: '', items: [{ sku: '', quantity: 0 }] }, {});
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['Idempotency-Key', 'customerId', 'items[0].quantity', 'items[0].sku']);
  });

  it('unknown SKU → 422 naming it', async () => {
    const response = await postCheckout(service, { customerId: 'c-1', items: [{ sku: 'NO-SUCH-THING', quantity: 1 }, { sku: 'MILK-2L', quantity: 1 }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ type: '/problems/unknown-sku', detail: expect.stringContaining('NO-SUCH-THING') });
  });

  it('inactive SKU → 422, and no order', async () => {
    await service.db.admin.query(sql.unsafe`insert into checkout.products (sku, name, unit_amount, active) values ('OLD-STOCK', 'Discontinued', 100, false) on conflict do nothing`);
    const before = await countOrders();
    const response = await postCheckout(service, { customerId: 'c-1', items: [{ sku: 'OLD-STOCK', quantity: 1 }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(422);
    expect(await countOrders()).toBe(before);
  });

  it.each([
    ['below Stripe\'s minimum (NZD 0.50)', 'LOLLY-10C', 4, 'amount-too-small', 'minimum charge of 50 nzd'],
    ['above Stripe\'s maximum (99999999)', 'GOLD-BAR', 2, 'amount-too-large', 'maximum charge of 99999999 nzd'],
  ])('a total %s → 422 naming the limit and the items field, and no order', async (_name, sku, quantity, type, limit) => {
    await service.db.admin.query(sql.unsafe`
      insert into checkout.products (sku, name, unit_amount) values ('LOLLY-10C', 'A lolly', 10), ('GOLD-BAR', 'Gold bar', 50000000)
      on conflict do nothing`);
    const before = await countOrders();
    const requests = service.simulator.requestLog.length;
    const response = await postCheckout(service, { customerId: 'c-1', items: [{ sku, quantity }] }, { 'idempotency-key': key() });
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: `/problems/${type}`, status: 422, detail: expect.stringContaining(limit) });
    expect(response.body.errors).toEqual([{ field: 'items', in: 'body', message: expect.stringContaining(limit) }]);
    expect(await countOrders()).toBe(before);
    expect(service.simulator.requestLog.length).toBe(requests);
  });

  it('a currency the catalog does not sell in → 422', async () => {
    const response = await postCheckout(service, { ...basket, currency: 'usd' }, { 'idempotency-key': key() });
    expect(response.status).toBe(422);
  });

  it('wrong content type → 415', async () => {
    const response = await postCheckout(service, 'customerId=c-1', { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': key() });
    expect(response.status).toBe(415);
    expect(response.body).toMatchObject({ status: 415, type: '/problems/unsupported-media-type' });
  });

  it('malformed JSON → 400', async () => {
    const response = await postCheckout(service, '{"customerId": ', { 'idempotency-key': key() });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ type: '/problems/malformed-json' });
  });

  it('a body over 64 KiB → 413', async () => {
    const before = await countOrders();
    const big = JSON.stringify({ ...basket, padding: 'x'.repeat(65 * 1024) });
    const response = await postCheckout(service, big, { 'idempotency-key': key() });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ type: '/problems/body-too-large' });
    expect(await countOrders()).toBe(before);
  });

  it('never shows a stack trace or SQL', async () => {
    const response = await postCheckout(service, { customerId: 'c-1', items: [{ sku: 'NO-SUCH', quantity: 1 }] }, { 'idempotency-key': key() });
    expect(JSON.stringify(response.body)).not.toMatch(/\bat \S+ \(|select |plpgsql|\.ts:\d+/i);
  });
});
