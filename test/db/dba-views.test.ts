// What DBAs query (CONTRACT.md "Database"): the timeline, stuck orders, open anomalies.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type DatabasePool } from 'slonik';
import { createDatabasePool } from '../../src/db/pool.ts';
import { loginUrl } from '../support/postgres.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { orderIn, paymentIntentIdFor, seedCatalog } from '../support/orders.ts';

let db: TestDatabase;
let dba: DatabasePool;
let oldPending: string, newPending: string, oldConfirmed: string;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  dba = await createDatabasePool(loginUrl(db.url, 'checkout_readonly'), { maxPoolSize: 1 });
  oldPending = await orderIn(db, 'PENDING_PAYMENT');
  newPending = await orderIn(db, 'PENDING_PAYMENT');
  oldConfirmed = await orderIn(db, 'PAYMENT_CONFIRMED');
  // Age two orders; created_at is not one of the columns the transition trigger protects.
  await db.admin.query(sql.unsafe`
    update checkout.orders set created_at = now() - interval '2 hours' where id in (${oldPending}, ${oldConfirmed})`);
});
afterAll(async () => {
  await dba?.end();
  await db?.drop();
});

describe('checkout.order_timeline', () => {
  it('lists every transition of an order in order, with who and why', async () => {
    const orderId = await orderIn(db, 'REFUNDED');
    const rows = await dba.any(sql.unsafe`
      select from_status, to_status, source, customer_id from checkout.order_timeline where order_id = ${orderId} order by seq`);
    expect(rows).toEqual([
      { from_status: null, to_status: 'PENDING_PAYMENT', source: 'checkout_api', customer_id: 'c-123' },
      { from_status: 'PENDING_PAYMENT', to_status: 'PAYMENT_CONFIRMED', source: 'stripe_webhook', customer_id: 'c-123' },
      { from_status: 'PAYMENT_CONFIRMED', to_status: 'REFUNDED', source: 'stripe_webhook', customer_id: 'c-123' },
    ]);
  });
});

describe('stale pending orders', () => {
  it('checkout.pending_orders_older_than(interval) returns only pending orders older than the interval', async () => {
    const ids = await dba.anyFirst(sql.unsafe`select order_id from checkout.pending_orders_older_than('1 hour')`);
    expect(ids).toEqual([oldPending]);
    const all = await dba.anyFirst(sql.unsafe`select order_id from checkout.pending_orders_older_than('0 seconds')`);
    expect(all).toEqual(expect.arrayContaining([oldPending, newPending]));
    expect(all).not.toContain(oldConfirmed);
  });

  it('checkout.stale_pending_orders follows the session setting checkout.stale_after (default 30 minutes)', async () => {
    await dba.transaction(async (tx) => {
      expect(await tx.anyFirst(sql.unsafe`select order_id from checkout.stale_pending_orders`)).toEqual([oldPending]);
      await tx.query(sql.unsafe`set local checkout.stale_after = '3 hours'`);
      expect(await tx.anyFirst(sql.unsafe`select order_id from checkout.stale_pending_orders`)).toEqual([]);
      await tx.query(sql.unsafe`set local checkout.stale_after = '0 seconds'`);
      const ids = await tx.anyFirst(sql.unsafe`select order_id from checkout.stale_pending_orders`);
      expect([...ids].sort()).toEqual(expect.arrayContaining([oldPending, newPending].sort()));
      expect(ids).not.toContain(oldConfirmed);
    });
  });

  it('reports age and amount', async () => {
    const row = await dba.one(sql.unsafe`
      select amount_total::int, currency, age >= interval '2 hours' as old_enough
        from checkout.pending_orders_older_than('1 hour') where order_id = ${oldPending}`);
    expect(row).toEqual({ amount_total: 1198, currency: 'nzd', old_enough: true });
  });
});

describe('checkout.open_payment_anomalies', () => {
  it('shows unresolved anomalies with their event type, and hides resolved ones', async () => {
    const orderId = await orderIn(db, 'CANCELLED');
    const eventId = `evt_${randomUUID().replaceAll('-', '')}`;
    const intent = {
      id: paymentIntentIdFor(orderId), object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd',
      status: 'succeeded', metadata: { order_id: orderId }, last_payment_error: null,
    };
    await db.app.query(sql.unsafe`select checkout.apply_stripe_event(${eventId}, 'payment_intent.succeeded', ${sql.jsonb(intent)})`);
    const open = () => dba.any(sql.unsafe`
      select kind, order_id, stripe_event_type, detail ->> 'orderStatus' as order_status
        from checkout.open_payment_anomalies where stripe_event_id = ${eventId}`);
    expect(await open()).toEqual([
      { kind: 'paid_after_close', order_id: orderId, stripe_event_type: 'payment_intent.succeeded', order_status: 'CANCELLED' },
    ]);
    await db.admin.query(sql.unsafe`update checkout.payment_anomalies set resolved_at = now() where stripe_event_id = ${eventId}`);
    expect(await open()).toEqual([]);
  });
});
