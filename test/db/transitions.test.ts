import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  countRows, expireOrderAsJob, legalTransitions, orderIn, paymentIntentIdFor, seedCatalog, sqlstateOf, statuses, statusOf, type Status,
} from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const isLegal = (from: Status, to: Status) => legalTransitions.some(([f, t]) => f === from && t === to);
const pairs = statuses.flatMap((from) => statuses.filter((to) => to !== from).map((to) => [from, to] as const));

describe('the transition table DBAs read', () => {
  it('holds exactly the legal moves of CONTRACT.md', async () => {
    const rows = await db.app.any(sql.unsafe`select from_status, to_status from checkout.order_status_transitions`).catch(() => null);
    expect(rows).toBeNull(); // the application role has no table access at all
    const asAdmin = await db.admin.any(sql.type(z.object({ from_status: z.string(), to_status: z.string() }))`select from_status, to_status from checkout.order_status_transitions`);
    const asText = (pairs: ReadonlyArray<readonly unknown[]>) => pairs.map((p) => p.join(' -> ')).sort();
    expect(asText(asAdmin.map((r) => [r.from_status, r.to_status]))).toEqual(asText(legalTransitions));
  });
});

describe('as a superuser, a direct UPDATE of the status', () => {
  it.each(pairs)('%s -> %s', async (from, to) => {
    const orderId = await orderIn(db, from);
    const historyBefore = await countRows(db.admin, 'order_status_history', orderId);
    const update = db.admin.query(sql.unsafe`update checkout.orders set status = ${to} where id = ${orderId}`);
    if (isLegal(from, to)) {
      await update;
      expect(await statusOf(db.admin, orderId)).toBe(to);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore + 1);
      const last = await db.admin.one(sql.unsafe`
        select from_status, to_status, source, db_user, txid from checkout.order_status_history
        where order_id = ${orderId} order by id desc limit 1`);
      expect(last).toMatchObject({ from_status: from, to_status: to, source: 'manual_sql', db_user: 'postgres' });
    } else {
      expect(await sqlstateOf(update)).toBe('CK001');
      expect(await statusOf(db.admin, orderId)).toBe(from);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore);
    }
  });

  it('cannot skip the rules with session_replication_role = replica', async () => {
    const orderId = await orderIn(db, 'CANCELLED');
    const attempt = db.admin.transaction(async (tx) => {
      await tx.query(sql.unsafe`set local session_replication_role = replica`);
      await tx.query(sql.unsafe`update checkout.orders set status = 'PAYMENT_CONFIRMED' where id = ${orderId}`);
    });
    expect(await sqlstateOf(attempt)).toBe('CK001');
    expect(await statusOf(db.admin, orderId)).toBe('CANCELLED');
  });
});

describe('as the application role', () => {
  // The only ways the service can move an order: one API function per target status.
  const call = (from: Status, to: Status, orderId: string) => {
    switch (to) {
      case 'PAYMENT_CONFIRMED':
        return sql.unsafe`select checkout.confirm_payment(${orderId}, ${paymentIntentIdFor(orderId)}, 1198, 'nzd', 'test') as r`;
      case 'CANCELLED':
        return sql.unsafe`select checkout.cancel_order(${orderId}, 'test', 'test') as r`;
      case 'EXPIRED':
        return expireOrderAsJob(orderId);
      case 'REFUNDED':
        // From PENDING_PAYMENT: the refund is recorded first, then the payment's confirmation closes the order.
        return from === 'PENDING_PAYMENT'
          ? sql.unsafe`
              with refunded as materialized (select checkout.refund_order(${orderId}, 1198, 'test', 'test') as r)
              select checkout.confirm_payment(${orderId}, ${paymentIntentIdFor(orderId)}, 1198, 'nzd', 'test') as r from refunded`
          : sql.unsafe`select checkout.refund_order(${orderId}, 1198, 'test', 'test') as r`;
      default:
        return sql.unsafe`update checkout.orders set status = ${to} where id = ${orderId}`;
    }
  };

  it.each(pairs)('%s -> %s', async (from, to) => {
    const orderId = await orderIn(db, from);
    const historyBefore = await countRows(db.admin, 'order_status_history', orderId);
    const attempt = db.app.query(call(from, to, orderId));
    if (isLegal(from, to)) {
      const result = await attempt;
      expect(result.rows[0]).toEqual({ r: 'applied' });
      expect(await statusOf(db.admin, orderId)).toBe(to);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore + 1);
    } else {
      // No function leads back to PENDING_PAYMENT, and the role may not UPDATE orders itself.
      expect(await sqlstateOf(attempt)).toBe(to === 'PENDING_PAYMENT' ? '42501' : 'CK001');
      expect(await statusOf(db.admin, orderId)).toBe(from);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore);
    }
  });

  it('records who made the transition and why', async () => {
    const orderId = await orderIn(db, 'PENDING_PAYMENT');
    await db.app.query(sql.unsafe`select checkout.cancel_order(${orderId}, 'checkout_api', 'customer gave up', 'evt_123')`);
    const row = await db.admin.one(sql.unsafe`
      select from_status, to_status, source, reason, stripe_event_id, db_user, txid > 0 as has_txid
      from checkout.order_timeline where order_id = ${orderId} order by seq desc limit 1`);
    expect(row).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'CANCELLED', source: 'checkout_api', reason: 'customer gave up',
      stripe_event_id: 'evt_123', db_user: 'postgres', has_txid: true,
    });
  });

  it('the expiry job cannot claim an order whose POST /checkout still holds it, nor expire it (CK013); changes nothing', async () => {
    const created = await db.app.oneFirst(sql.type(z.object({ r: z.object({ order: z.object({ orderId: z.string() }), checkoutToken: z.string() }) }))`
      select checkout.create_order(${randomUUID()}, 'c-123', 'nzd', '[{"sku":"MILK-2L","quantity":1}]', interval '1 hour') as r`);
    const orderId = created.order.orderId;
    expect(await db.app.oneFirst(sql.unsafe`select checkout.claim_order_for_expiry(${orderId}, null, '0 seconds', '1 minute') as c`)).toEqual({ outcome: 'busy' });
    expect(await sqlstateOf(db.app.query(sql.unsafe`select checkout.expire_order(${orderId}, null, ${randomUUID()})`))).toBe('CK013');
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await db.app.oneFirst(sql.unsafe`select checkout.release_checkout_lease(${orderId}, ${created.checkoutToken}) as r`)).toBe(true);
    expect(await db.app.oneFirst(expireOrderAsJob(orderId))).toBe('applied');
  });

  it('repeating a close is ignored, not an error', async () => {
    const orderId = await orderIn(db, 'CANCELLED');
    const result = await db.app.oneFirst(sql.unsafe`select checkout.cancel_order(${orderId}, 'test', 'again') as r`);
    expect(result).toBe('ignored');
  });
});

describe('the audit trail', () => {
  it('is append-only, even for a superuser', async () => {
    const orderId = await orderIn(db, 'PENDING_PAYMENT');
    expect(await sqlstateOf(db.admin.query(sql.unsafe`
      update checkout.order_status_history set reason = 'rewritten' where order_id = ${orderId}`))).toBe('CK008');
    expect(await sqlstateOf(db.admin.query(sql.unsafe`
      delete from checkout.order_status_history where order_id = ${orderId}`))).toBe('CK008');
    expect(await sqlstateOf(db.admin.query(sql.unsafe`truncate checkout.order_status_history cascade`))).toBe('CK008');
  });

  it('starts with the creation of the order', async () => {
    const orderId = await orderIn(db, 'PENDING_PAYMENT');
    const rows = await db.admin.any(sql.unsafe`
      select from_status, to_status, source from checkout.order_status_history where order_id = ${orderId}`);
    expect(rows).toEqual([{ from_status: null, to_status: 'PENDING_PAYMENT', source: 'checkout_api' }]);
  });
});
