import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import {
  applyEvent, countRows, createOrder, eventTo, expireOrderAsJob, legalTransitions, orderIn, paymentIntentIdFor, seedCatalog, sqlstateOf,
  statuses, statusOf, type Status,
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
    // The application role has no table access at all.
    expect(await sqlstateOf(db.app.any(sql.unsafe`select from_status, to_status from checkout.order_status_transitions`))).toBe('42501');
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

describe('the internal transition functions, called by the owner', () => {
  // confirm_payment, cancel_order and refund_order are reached through apply_stripe_event (the app
  // may not call them); their own refusals hold for whoever calls them.
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
        return undefined; // no function leads back to PENDING_PAYMENT
    }
  };

  it.each(pairs.filter(([, to]) => to !== 'PENDING_PAYMENT'))('%s -> %s', async (from, to) => {
    const orderId = await orderIn(db, from);
    const historyBefore = await countRows(db.admin, 'order_status_history', orderId);
    const attempt = db.admin.query(call(from, to, orderId)!);
    if (isLegal(from, to)) {
      expect((await attempt).rows[0]).toEqual({ r: 'applied' });
      expect(await statusOf(db.admin, orderId)).toBe(to);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore + 1);
    } else {
      expect(await sqlstateOf(attempt)).toBe('CK001');
      expect(await statusOf(db.admin, orderId)).toBe(from);
      expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore);
    }
  });
});

describe('as the application role', () => {
  // The service's only ways to move an order: a Stripe event through apply_stripe_event, or the
  // expiry job's expire_order. An event that does not apply is recorded (ignored or an anomaly for a
  // person, DESIGN.md), never a transition.
  const notApplied: Partial<Record<`${Status}->${Status}`, string>> = {
    // A success seen again for a payment that was refunded since: known money, nothing to do.
    'CANCELLED->PAYMENT_CONFIRMED': 'anomaly', 'EXPIRED->PAYMENT_CONFIRMED': 'anomaly', 'REFUNDED->PAYMENT_CONFIRMED': 'ignored',
    'PAYMENT_CONFIRMED->CANCELLED': 'anomaly', 'REFUNDED->CANCELLED': 'anomaly', 'EXPIRED->CANCELLED': 'ignored',
    'CANCELLED->REFUNDED': 'anomaly', 'EXPIRED->REFUNDED': 'anomaly',
  };

  it.each(pairs)('%s -> %s', async (from, to) => {
    const orderId = await orderIn(db, from);
    const historyBefore = await countRows(db.admin, 'order_status_history', orderId);
    let outcome: string;
    if (to === 'PENDING_PAYMENT') {
      outcome = await sqlstateOf(db.app.query(sql.unsafe`update checkout.orders set status = ${to} where id = ${orderId}`));
    } else if (to === 'EXPIRED') {
      const expire = db.app.oneFirst(expireOrderAsJob(orderId));
      outcome = isLegal(from, to) ? String(await expire) : await sqlstateOf(expire);
    } else if (from === 'PENDING_PAYMENT' && to === 'REFUNDED') {
      // A full refund recorded first, then the payment's success closes the order without events.
      const refunded = eventTo('REFUNDED', orderId);
      expect(await applyEvent(db.app, refunded.type, refunded.object)).toBe('applied');
      const succeeded = eventTo('PAYMENT_CONFIRMED', orderId);
      outcome = await applyEvent(db.app, succeeded.type, succeeded.object);
    } else {
      const { type, object } = eventTo(to, orderId);
      outcome = await applyEvent(db.app, type, object);
    }
    const expected = isLegal(from, to) ? 'applied' : to === 'PENDING_PAYMENT' ? '42501' : to === 'EXPIRED' ? 'CK001' : notApplied[`${from}->${to}`];
    expect(outcome).toBe(expected);
    expect(await statusOf(db.admin, orderId)).toBe(isLegal(from, to) ? to : from);
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(historyBefore + (isLegal(from, to) ? 1 : 0));
  });

  it('records who made the transition and why, and the login that made it', async () => {
    const { orderId } = await createOrder(db.app);
    const { type, object } = eventTo('CANCELLED', orderId);
    const eventId = `evt_who${randomUUID().replaceAll('-', '')}`;
    expect(await applyEvent(db.app, type, object, eventId)).toBe('applied');
    const row = await db.admin.one(sql.unsafe`
      select from_status, to_status, source, reason, stripe_event_id, db_user, txid > 0 as has_txid
      from checkout.order_timeline where order_id = ${orderId} order by seq desc limit 1`);
    expect(row).toEqual({
      from_status: 'PENDING_PAYMENT', to_status: 'CANCELLED', source: 'stripe_webhook', reason: 'PaymentIntent canceled: requested_by_customer',
      stripe_event_id: eventId, db_user: 'checkout_app', has_txid: true,
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
    const orderId = await orderIn(db, 'EXPIRED');
    expect(await db.app.oneFirst(expireOrderAsJob(orderId))).toBe('ignored');
    const cancelled = await orderIn(db, 'CANCELLED');
    const { type, object } = eventTo('CANCELLED', cancelled);
    expect(await applyEvent(db.app, type, object)).toBe('ignored');
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

// Issue 10.5: the transition trigger guards UPDATEs; an INSERT could otherwise create an order that
// is already paid, with no audit transition and no OrderConfirmed row.
describe('a new order, inserted directly, even by a superuser', () => {
  const insert = (columns: Record<string, unknown>) => {
    const values = { customer_id: 'c-direct', currency: 'nzd', amount_total: 1198, request_fingerprint: 'direct', ...columns };
    return sql.fragment`
      insert into checkout.orders (idempotency_key, ${sql.join(Object.keys(values).map((c) => sql.identifier([c])), sql.fragment`, `)})
      values (${randomUUID()}, ${sql.join(Object.values(values).map((v) => sql.fragment`${v as string}`), sql.fragment`, `)})`;
  };
  const directOrders = () => db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.orders where customer_id = 'c-direct'`);

  it.each([
    ['PAYMENT_CONFIRMED', { status: 'PAYMENT_CONFIRMED', amount_received: 1198 }],
    ['REFUNDED', { status: 'REFUNDED', amount_received: 1198, amount_refunded: 1198 }],
    ['CANCELLED', { status: 'CANCELLED' }],
    ['EXPIRED', { status: 'EXPIRED' }],
    ['PENDING_PAYMENT with an amount received', { amount_received: 1198 }],
    ['PENDING_PAYMENT with an amount refunded', { amount_refunded: 1 }],
  ])('cannot start %s (CK020): no order, no history, no outbox row', async (_name, columns) => {
    const before = await directOrders();
    expect(await sqlstateOf(db.admin.query(sql.unsafe`${insert(columns)}`))).toBe('CK020');
    expect(await directOrders()).toBe(before);
  });

  it('cannot skip the rule with session_replication_role = replica (CK020)', async () => {
    const attempt = db.admin.transaction(async (tx) => {
      await tx.query(sql.unsafe`set local session_replication_role = replica`);
      await tx.query(sql.unsafe`${insert({ status: 'PAYMENT_CONFIRMED', amount_received: 1198 })}`);
    });
    expect(await sqlstateOf(attempt)).toBe('CK020');
  });

  it('starts PENDING_PAYMENT, audited as manual_sql by the login that inserted it', async () => {
    const orderId = await db.admin.oneFirst(sql.type(z.object({ id: z.string() }))`${insert({})} returning id`);
    expect(await statusOf(db.admin, orderId)).toBe('PENDING_PAYMENT');
    expect(await db.admin.any(sql.unsafe`
      select from_status, to_status, source, db_user from checkout.order_status_history where order_id = ${orderId}`))
      .toEqual([{ from_status: null, to_status: 'PENDING_PAYMENT', source: 'manual_sql', db_user: 'postgres' }]);
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
  });
});
