// CONTRACT.md "Kafka: OrderConfirmed": an outbox row exists only because an order legally became
// PAYMENT_CONFIRMED in the same transaction, exactly once, even when confirmations race.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { orderConfirmedErrors } from '../../src/events/event-schemas.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  applyEvent, countRows, createOrder, eventTo, orderIn, paymentIntentIdFor, seedCatalog, sqlstateOf, waitForLockWaiters,
} from '../support/orders.ts';
import { paymentIntentObject } from '../support/stripe-events.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const outboxRow = z.object({
  id: z.string(), aggregatetype: z.string(), aggregateid: z.string(), type: z.string(), payload: z.record(z.string(), z.unknown()),
});

describe('one outbox row per confirmation', () => {
  it.each(['PENDING_PAYMENT', 'CANCELLED', 'EXPIRED'] as const)('none for an order that is %s', async (status) => {
    const orderId = await orderIn(db, status);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });

  it('one for a confirmation; a repeated confirm adds none, a refund adds its OrderRefunded only', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
    const succeededAgain = eventTo('PAYMENT_CONFIRMED', orderId);
    expect(await applyEvent(db.app, succeededAgain.type, succeededAgain.object)).toBe('ignored');
    const refunded = eventTo('REFUNDED', orderId);
    expect(await applyEvent(db.app, refunded.type, refunded.object)).toBe('applied');
    expect(await db.admin.anyFirst(sql.unsafe`select type from checkout.outbox where aggregateid = ${orderId} order by created_at, type`))
      .toEqual(['OrderConfirmed', 'OrderRefunded']);
    expect(await db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.outbox where type = 'OrderConfirmed'`)).toBe(
      await db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.order_status_history where to_status = 'PAYMENT_CONFIRMED'`),
    );
  });

  it('a failed confirmation (amount mismatch) writes none', async () => {
    const { orderId } = await createOrder(db.app);
    // confirm_payment is internal (apply_stripe_event calls it): its own check, as the owner.
    expect(await sqlstateOf(db.admin.query(sql.unsafe`
      select checkout.confirm_payment(${orderId}, ${paymentIntentIdFor(orderId)}, 1197, 'nzd', 'test')`))).toBe('CK006');
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });
});

describe('the OrderConfirmed payload', () => {
  it('validates against the JSON Schema and describes the order', async () => {
    const { orderId } = await createOrder(db.app, [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }]);
    const pi = paymentIntentIdFor(orderId);
    expect(await applyEvent(db.app, 'payment_intent.succeeded', paymentIntentObject({ id: pi, orderId, amount: 2097 }))).toBe('applied');
    const row = await db.admin.one(sql.type(outboxRow)`
      select id, aggregatetype, aggregateid, type, payload from checkout.outbox where aggregateid = ${orderId}`);
    expect(orderConfirmedErrors(row.payload)).toEqual([]);
    expect(row).toMatchObject({ aggregatetype: 'Order', aggregateid: orderId, type: 'OrderConfirmed' });
    expect(row.payload).toEqual({
      eventId: row.id, eventType: 'OrderConfirmed', schemaVersion: 1, occurredAt: expect.any(String),
      orderId, customerId: 'c-123', currency: 'nzd', amountTotal: 2097,
      lines: [
        { sku: 'EGGS-12', name: 'Free range eggs, dozen', quantity: 1, unitAmount: 899, lineTotal: 899 },
        { sku: 'MILK-2L', name: 'Fresh milk 2L', quantity: 2, unitAmount: 599, lineTotal: 1198 },
      ],
      payment: { provider: 'stripe', paymentIntentId: pi, amountReceived: 2097 },
    });
    // ISO-8601 in UTC with milliseconds, exactly as JavaScript's Date writes it.
    expect(new Date(row.payload.occurredAt as string).toISOString()).toBe(row.payload.occurredAt);
  });
});

describe('racing confirmations', () => {
  let second: DatabasePool;
  let many: DatabasePool;
  beforeAll(async () => {
    second = await createDatabasePool(db.appUrl, { maxPoolSize: 1 });
    many = await createDatabasePool(db.appUrl, { maxPoolSize: 20 });
  });
  afterAll(async () => Promise.allSettled([second?.end(), many?.end()]));

  /** Holds the order's row lock until `release` is called, so racers queue behind it together. */
  function holdOrderLock(orderId: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => (locked = resolve));
    const done = db.admin.transaction(async (tx) => {
      await tx.query(sql.unsafe`select 1 from checkout.orders where id = ${orderId} for update`);
      locked();
      await released;
    });
    return { isLocked, release, done };
  }

  // The webhook and the reconciliation job confirming one order at once: two different events.
  it('two connections confirming one order: one transition, one history row, one outbox row', async () => {
    const { orderId } = await createOrder(db.app);
    const lock = holdOrderLock(orderId);
    await lock.isLocked;
    const { type, object } = eventTo('PAYMENT_CONFIRMED', orderId);
    const racers = [applyEvent(db.app, type, object), applyEvent(second, type, object)];
    await waitForLockWaiters(db.admin, 'apply_stripe_event', 2);
    lock.release();
    await lock.done;
    expect((await Promise.all(racers)).sort()).toEqual(['applied', 'ignored']);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
    const history = await db.admin.anyFirst(sql.unsafe`
      select to_status from checkout.order_status_history where order_id = ${orderId} order by id`);
    expect(history).toEqual(['PENDING_PAYMENT', 'PAYMENT_CONFIRMED']);
  });

  it('20 concurrent deliveries of one Stripe event: one applied, 19 duplicates, one outbox row', async () => {
    const { orderId } = await createOrder(db.app);
    const pi = paymentIntentIdFor(orderId);
    const eventId = `evt_${randomUUID().replaceAll('-', '')}`;
    const intent = {
      id: pi, object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd', status: 'succeeded',
      metadata: { order_id: orderId }, last_payment_error: null,
    };
    const lock = holdOrderLock(orderId);
    await lock.isLocked;
    const deliveries = Array.from({ length: 20 }, () =>
      many.oneFirst(sql.unsafe`
        select checkout.apply_stripe_event(${eventId}, 'payment_intent.succeeded', ${sql.jsonb(intent)}) ->> 'outcome' as r`));
    // The first waits for the order row, the other 19 for its ledger row.
    await waitForLockWaiters(db.admin, 'apply_stripe_event', 20);
    lock.release();
    await lock.done;
    const outcomes = await Promise.all(deliveries);
    expect(outcomes.filter((o) => o === 'applied')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(19);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(1);
    expect(await db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.stripe_events where id = ${eventId}`)).toBe(1);
  });
});
