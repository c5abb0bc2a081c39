// Issue 9 item 1 in SQL: every POST /checkout that holds an order's lease is an attempt
// (checkout.checkout_attempts); create_order decides its Stripe idempotency key and whether it searches
// first, the attempt's end is recorded once, and every attempt that ends without a PaymentIntent
// attached schedules a sweep of the order's PaymentIntents (checkout.payment_intent_sweeps).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { seedDemoCatalog } from '../../src/db/demo-catalog.ts';
import { migrate, shippedMigrations } from '../../src/db/migrate.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { attemptsBegunEarlier, quietAtStripeFor } from '../support/attempts.ts';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expireOrderAsJob, paymentIntentIdFor, seedCatalog, sqlstateOf, waitForLockWaiters } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

const attemptSchema = z.object({ number: z.number(), idempotencyKey: z.string(), searchFirst: z.boolean() });
const checkoutSchema = z.object({ outcome: z.string(), order: z.object({ orderId: z.string() }).passthrough(), checkoutToken: z.string().optional(), attempt: attemptSchema.optional() });

/** create_order as POST /checkout calls it; `lease` 0 s stands for a request whose lease has run out. */
async function checkout(key: string, lease = '1 minute') {
  return db.app.oneFirst(sql.type(z.object({ r: checkoutSchema }))`
    select checkout.create_order(${key}, 'c-123', 'nzd', '[{"sku":"MILK-2L","quantity":2}]', ${lease}::interval) as r`);
}

const endAttempt = (orderId: string, token: string, outcome: string, detail = 'api_error 500 req_test') =>
  db.app.oneFirst(sql.type(z.object({ released: z.boolean() }))`
    select checkout.end_checkout_attempt(${orderId}, ${token}, ${outcome}, ${detail}) as released`);

const attach = (orderId: string, paymentIntentId: string, token: string) =>
  db.app.oneFirst(sql.type(z.object({ outcome: z.string() }))`
    select checkout.attach_payment_intent(${orderId}, ${paymentIntentId}, ${token})->>'outcome' as outcome`);

const attemptRow = z.object({
  attempt: z.number(), idempotency_key: z.string(), outcome: z.string().nullable(), payment_intent_id: z.string().nullable(),
  detail: z.string().nullable(), ended: z.boolean(),
});
const attemptsOf = (orderId: string) => db.admin.any(sql.type(attemptRow)`
  select attempt, idempotency_key, outcome, payment_intent_id, detail, ended_at is not null as ended
    from checkout.checkout_attempts where order_id = ${orderId} order by attempt`);

const sweepRow = z.object({ clean_sweeps: z.number(), failures: z.number(), backed_off: z.boolean(), last_outcome: z.string().nullable() });
const sweepOf = (orderId: string) => db.admin.maybeOne(sql.type(sweepRow)`
  select clean_sweeps, failures, coalesce(next_sweep_at > now(), false) as backed_off, last_outcome
    from checkout.payment_intent_sweeps where order_id = ${orderId}`);

const leaseHeld = (orderId: string) => db.admin.oneFirst(sql.type(z.object({ held: z.boolean() }))`
  select coalesce(checkout_lease_until > now(), false) as held from checkout.orders where id = ${orderId}`);


describe('the attempts of an order', () => {
  it('the first: key checkout-order-<id>-1, no search; attaching its PaymentIntent ends it, nothing to sweep', async () => {
    const created = await checkout(randomUUID());
    const { orderId } = created.order;
    expect(created).toMatchObject({ outcome: 'created', attempt: { number: 1, idempotencyKey: `checkout-order-${orderId}-1`, searchFirst: false } });
    expect(await attemptsOf(orderId)).toEqual([
      { attempt: 1, idempotency_key: `checkout-order-${orderId}-1`, outcome: null, payment_intent_id: null, detail: null, ended: false },
    ]);
    expect(await attach(orderId, paymentIntentIdFor(orderId), created.checkoutToken!)).toBe('attached');
    expect(await attemptsOf(orderId)).toMatchObject([{ outcome: 'attached', payment_intent_id: paymentIntentIdFor(orderId), ended: true }]);
    expect(await sweepOf(orderId)).toBeNull();
  });

  it('after an error Stripe keeps under the key: the lease is released, a sweep scheduled, and the resume takes a new key and searches first', async () => {
    const key = randomUUID();
    const first = await checkout(key);
    const { orderId } = first.order;
    expect(await endAttempt(orderId, first.checkoutToken!, 'stripe_error')).toBe(true);
    expect(await leaseHeld(orderId)).toBe(false);
    expect(await attemptsOf(orderId)).toMatchObject([{ outcome: 'stripe_error', detail: 'api_error 500 req_test', ended: true }]);
    expect(await sweepOf(orderId)).toEqual({ clean_sweeps: 0, failures: 0, backed_off: false, last_outcome: null });

    const resumed = await checkout(key);
    expect(resumed).toMatchObject({ outcome: 'resumed', attempt: { number: 2, idempotencyKey: `checkout-order-${orderId}-2`, searchFirst: true } });
    expect(resumed.checkoutToken).not.toBe(first.checkoutToken);
  });

  it('after no answer Stripe keeps: each resume replays the key without searching, while it is younger than 23 hours', async () => {
    const key = randomUUID();
    const first = await checkout(key);
    const { orderId } = first.order;
    const firstKey = `checkout-order-${orderId}-1`;
    await endAttempt(orderId, first.checkoutToken!, 'unfinished', 'StripeConnectionError');
    const second = await checkout(key);
    expect(second.attempt).toEqual({ number: 2, idempotencyKey: firstKey, searchFirst: false });
    await endAttempt(orderId, second.checkoutToken!, 'unfinished', 'StripeConnectionError');
    const third = await checkout(key);
    expect(third.attempt).toEqual({ number: 3, idempotencyKey: firstKey, searchFirst: false });
    await endAttempt(orderId, third.checkoutToken!, 'unfinished', 'StripeConnectionError');

    // The key's age counts from its first use: Stripe may prune it after 24 hours, and a replay would
    // then create a second PaymentIntent. A new key, and the search finds the first.
    await attemptsBegunEarlier(db.admin, orderId, 23);
    const fourth = await checkout(key);
    expect(fourth.attempt).toEqual({ number: 4, idempotencyKey: `checkout-order-${orderId}-4`, searchFirst: true });
  });

  it('a request that stopped without reporting: the resume ends its attempt unfinished, replays its key and schedules a sweep', async () => {
    const key = randomUUID();
    const first = await checkout(key, '0 seconds');
    const { orderId } = first.order;
    expect(await sweepOf(orderId)).toBeNull();
    const resumed = await checkout(key);
    expect(resumed.attempt).toEqual({ number: 2, idempotencyKey: `checkout-order-${orderId}-1`, searchFirst: false });
    expect(await attemptsOf(orderId)).toMatchObject([
      { attempt: 1, outcome: 'unfinished', ended: true, detail: expect.stringContaining('did not report') },
      { attempt: 2, idempotency_key: `checkout-order-${orderId}-1`, outcome: null, ended: false },
    ]);
    expect(await sweepOf(orderId)).toMatchObject({ clean_sweeps: 0 });

    // The stopped request comes back after all: its lease is gone and its end is already recorded.
    expect(await endAttempt(orderId, first.checkoutToken!, 'stripe_error')).toBe(false);
    expect(await leaseHeld(orderId)).toBe(true);
    expect((await attemptsOf(orderId))[0]).toMatchObject({ outcome: 'unfinished' });
  });

  it('a resume racing the end of the attempt it takes over from waits for it, and follows the end it recorded', async () => {
    const key = randomUUID();
    const first = await checkout(key, '0 seconds');
    const { orderId } = first.order;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let ended!: () => void;
    const isEnded = new Promise<void>((resolve) => (ended = resolve));
    // The first request records its end in a transaction that has not committed yet.
    const ending = db.app.transaction(async (tx) => {
      await tx.query(sql.unsafe`select checkout.end_checkout_attempt(${orderId}, ${first.checkoutToken!}, 'stripe_error', 'api_error 500')`);
      ended();
      await released;
    });
    await isEnded;
    const resumed = checkout(key);
    await waitForLockWaiters(db.admin, 'create_order', 1);
    release();
    await ending;
    expect((await resumed).attempt).toEqual({ number: 2, idempotencyKey: `checkout-order-${orderId}-2`, searchFirst: true });
    expect(await attemptsOf(orderId)).toMatchObject([{ outcome: 'stripe_error', detail: 'api_error 500' }, { outcome: null }]);
  });

  it('the order was closed while the attempt was at Stripe: the attempt ends closed with its PaymentIntent, and a sweep is scheduled', async () => {
    const key = randomUUID();
    const first = await checkout(key, '0 seconds');
    const { orderId } = first.order;
    const { type, object } = { type: 'payment_intent.canceled', object: { id: 'pi_other', object: 'payment_intent', status: 'canceled', metadata: { order_id: orderId }, cancellation_reason: 'requested_by_customer', amount: 1198, currency: 'nzd' } };
    await db.app.query(sql.unsafe`select checkout.apply_stripe_event(${`evt_${randomUUID()}`}, ${type}, ${sql.jsonb(object)})`);
    expect(await attach(orderId, paymentIntentIdFor(orderId), first.checkoutToken!)).toBe('closed');
    expect(await attemptsOf(orderId)).toMatchObject([{ outcome: 'closed', payment_intent_id: paymentIntentIdFor(orderId), detail: expect.stringContaining('CANCELLED') }]);
    expect(await sweepOf(orderId)).toMatchObject({ clean_sweeps: 0 });
  });

  it('expiry ends an attempt its request left open, and schedules a sweep; an attached order expires without one', async () => {
    const stopped = (await checkout(randomUUID(), '0 seconds')).order.orderId;
    expect(await db.app.oneFirst(expireOrderAsJob(stopped))).toBe('applied');
    expect(await attemptsOf(stopped)).toMatchObject([{ outcome: 'unfinished', detail: expect.stringContaining('expired') }]);
    expect(await sweepOf(stopped)).toMatchObject({ clean_sweeps: 0 });

    const paid = await checkout(randomUUID(), '0 seconds');
    await attach(paid.order.orderId, paymentIntentIdFor(paid.order.orderId), paid.checkoutToken!);
    expect(await db.app.oneFirst(expireOrderAsJob(paid.order.orderId))).toBe('applied');
    expect(await attemptsOf(paid.order.orderId)).toMatchObject([{ outcome: 'attached' }]);
    expect(await sweepOf(paid.order.orderId)).toBeNull();
  });

  it('end_checkout_attempt takes only the two ends without a PaymentIntent (22023), and changes nothing otherwise', async () => {
    const first = await checkout(randomUUID());
    const { orderId } = first.order;
    for (const outcome of ['attached', 'closed', 'failed']) {
      expect(await sqlstateOf(endAttempt(orderId, first.checkoutToken!, outcome))).toBe('22023');
    }
    expect(await attemptsOf(orderId)).toMatchObject([{ outcome: null, ended: false }]);
    expect(await leaseHeld(orderId)).toBe(true);
    expect(await sweepOf(orderId)).toBeNull();
  });
});

describe('orders due for a PaymentIntent sweep', () => {
  const due = (after = '0 seconds', limit = 1000) => db.app.anyFirst(sql.type(z.object({ order_id: z.string() }))`
    select order_id from checkout.orders_due_for_payment_intent_sweep(${after}::interval, ${limit})`);
  const record = (orderId: string, outcome: string) => db.app.oneFirst(sql.type(z.object({ r: z.record(z.string(), z.unknown()) }))`
    select checkout.record_payment_intent_sweep(${orderId}, ${outcome}) as r`);

  /** An order whose first attempt failed at Stripe and whose second attached `pi`. */
  async function failedThenAttached(): Promise<string> {
    const key = randomUUID();
    const first = await checkout(key);
    const { orderId } = first.order;
    await endAttempt(orderId, first.checkoutToken!, 'stripe_error');
    const second = await checkout(key);
    await attach(orderId, paymentIntentIdFor(orderId), second.checkoutToken!);
    return orderId;
  }

  it('once the order has its PaymentIntent (or is closed) and its checkout has been quiet at Stripe for the allowance', async () => {
    const key = randomUUID();
    const first = await checkout(key);
    const { orderId } = first.order;
    await endAttempt(orderId, first.checkoutToken!, 'stripe_error');
    await quietAtStripeFor(db.admin, orderId, HOUR);
    // Pending without a PaymentIntent: a resume may still reuse what a sweep would cancel.
    expect(await due()).not.toContain(orderId);
    const second = await checkout(key);
    expect(await due()).not.toContain(orderId); // held by the resume
    await attach(orderId, paymentIntentIdFor(orderId), second.checkoutToken!);
    expect(await due('2 hours')).not.toContain(orderId);
    expect(await due('30 minutes')).toContain(orderId);
  });

  it('twice: the second a day after the checkout was quiet, then never again', async () => {
    const orderId = await failedThenAttached();
    expect(await due()).toContain(orderId);
    expect(await record(orderId, 'clean')).toMatchObject({ outcome: 'clean', cleanSweeps: 1, failures: 0, nextSweepAt: null });
    expect(await due()).not.toContain(orderId);
    await quietAtStripeFor(db.admin, orderId, 23 * HOUR);
    expect(await due()).not.toContain(orderId);
    await quietAtStripeFor(db.admin, orderId, DAY);
    expect(await due()).toContain(orderId);
    expect(await record(orderId, 'clean')).toMatchObject({ cleanSweeps: 2 });
    await quietAtStripeFor(db.admin, orderId, 30 * DAY);
    expect(await due()).not.toContain(orderId);
  });

  it('a sweep that failed at Stripe, or left one payable, backs the order off: 1 minute, 2, …', async () => {
    const orderId = await failedThenAttached();
    expect(await record(orderId, 'stripe_failed')).toMatchObject({ outcome: 'stripe_failed', cleanSweeps: 0, failures: 1 });
    expect(await sweepOf(orderId)).toEqual({ clean_sweeps: 0, failures: 1, backed_off: true, last_outcome: 'stripe_failed' });
    expect(await due()).not.toContain(orderId);
    const pause = () => db.admin.oneFirst(sql.type(z.object({ s: z.number() }))`
      select round(extract(epoch from next_sweep_at - last_swept_at))::int as s from checkout.payment_intent_sweeps where order_id = ${orderId}`);
    expect(await pause()).toBe(60);
    expect(await record(orderId, 'still_payable')).toMatchObject({ failures: 2 });
    expect(await pause()).toBe(120);
    await db.admin.query(sql.unsafe`update checkout.payment_intent_sweeps set next_sweep_at = now() - interval '1 second' where order_id = ${orderId}`);
    expect(await due()).toContain(orderId);
    expect(await record(orderId, 'clean')).toMatchObject({ cleanSweeps: 1, failures: 0 });
  });

  it('a new failed attempt starts the sweeping over', async () => {
    const key = randomUUID();
    const first = await checkout(key);
    const { orderId } = first.order;
    await endAttempt(orderId, first.checkoutToken!, 'stripe_error');
    await db.admin.query(sql.unsafe`update checkout.payment_intent_sweeps set clean_sweeps = 1 where order_id = ${orderId}`);
    const second = await checkout(key);
    await endAttempt(orderId, second.checkoutToken!, 'unfinished');
    expect(await sweepOf(orderId)).toMatchObject({ clean_sweeps: 0 });
  });

  it('at most p_limit, least recently swept first', async () => {
    const [a, b] = [await failedThenAttached(), await failedThenAttached()];
    await quietAtStripeFor(db.admin, a, 10 * 60);
    await quietAtStripeFor(db.admin, b, 20 * 60);
    const listed = await due();
    expect(listed.indexOf(b)).toBeLessThan(listed.indexOf(a));
    expect(await due('0 seconds', 1)).toHaveLength(1);
  });

  it('a sweep of an order without one is refused (P0002)', async () => {
    expect(await sqlstateOf(record(randomUUID(), 'clean'))).toBe('P0002');
  });
});

describe('orders from before attempts (migration 0025)', () => {
  it('an order left without a PaymentIntent gets an unfinished attempt under its one old key, replayed by a resume, and a sweep', async () => {
    const empty = await createEmptyDatabase();
    const owner = await createDatabasePool(empty.url);
    try {
      const before = (await shippedMigrations()).indexOf('0024_payment_intent_sweeps');
      await migrate(empty.url, { direction: 'up', count: before });
      await seedDemoCatalog(owner);
      const old = (key: string, lease: string) => owner.oneFirst(sql.type(z.object({ r: z.object({ order: z.object({ orderId: z.string() }).passthrough(), checkoutToken: z.string() }).passthrough() }))`
        select checkout.create_order(${key}, 'c-1', 'nzd', '[{"sku":"MILK-2L","quantity":1}]', ${lease}::interval) as r`);
      const oldAttach = (orderId: string, token: string) => owner.query(sql.unsafe`
        select checkout.attach_payment_intent(${orderId}, ${paymentIntentIdFor(orderId)}, ${token})`);
      const failedKey = randomUUID();
      const failed = await old(failedKey, '0 seconds');
      const attached = await old(randomUUID(), '0 seconds');
      await oldAttach(attached.order.orderId, attached.checkoutToken);
      const running = await old(randomUUID(), '1 minute');

      await migrate(empty.url, { direction: 'up' });
      const rows = (orderId: string) => owner.any(sql.type(z.object({ attempt: z.number(), idempotency_key: z.string(), outcome: z.string().nullable() }))`
        select attempt, idempotency_key, outcome from checkout.checkout_attempts where order_id = ${orderId} order by attempt`);
      const swept = (orderId: string) => owner.oneFirst(sql.type(z.object({ n: z.number() }))`
        select count(*)::int as n from checkout.payment_intent_sweeps where order_id = ${orderId}`);
      const failedId = failed.order.orderId;
      expect(await rows(failedId)).toEqual([{ attempt: 1, idempotency_key: `checkout-order-${failedId}`, outcome: 'unfinished' }]);
      expect(await swept(failedId)).toBe(1);
      expect(await rows(attached.order.orderId)).toEqual([]);
      expect(await swept(attached.order.orderId)).toBe(0);
      expect(await rows(running.order.orderId)).toEqual([{ attempt: 1, idempotency_key: `checkout-order-${running.order.orderId}`, outcome: null }]);

      // The request still running under the old code attaches with its token: its attempt ends.
      await oldAttach(running.order.orderId, running.checkoutToken);
      expect(await rows(running.order.orderId)).toMatchObject([{ outcome: 'attached' }]);
      // The customer comes back to the old order: the old key is replayed (it may hold a PaymentIntent).
      const resumed = await old(failedKey, '1 minute');
      expect(resumed).toMatchObject({ outcome: 'resumed', attempt: { number: 2, idempotencyKey: `checkout-order-${failedId}`, searchFirst: false } });
    } finally {
      await owner.end();
      await empty.drop();
    }
  });
});
