// DESIGN.md "Least privilege": the service logs in as checkout_app, which owns nothing and only
// executes the API functions; DBAs read, Debezium reads the outbox. Every denial is asserted with
// its SQLSTATE (42501 insufficient_privilege).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { createDatabasePool } from '../../src/db/pool.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { applyEvent, countRows, createOrder, eventTo, expireOrderAsJob, orderIn, paymentIntentIdFor, seedCatalog, sqlstateOf } from '../support/orders.ts';
import { loginUrl } from '../support/postgres.ts';

let db: TestDatabase;
let readonly: DatabasePool;
let cdc: DatabasePool;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  readonly = await createDatabasePool(loginUrl(db.url, 'checkout_readonly'));
  cdc = await createDatabasePool(loginUrl(db.url, 'checkout_cdc'));
});
afterAll(async () => {
  await Promise.allSettled([readonly?.end(), cdc?.end()]);
  await db?.drop();
});

// What 0007_roles.sql (and 0009 for the metrics function, 0011 for the outbox, 0021-0023 for the
// lease and the jobs, 0024-0025 for checkout attempts and their sweep, 0030 for unreadable events,
// 0045 for GET /products) grant to checkout_app; 0023 took
// pending_orders_older_than (0008) back: DBAs only; 0035 revoked confirm_payment, cancel_order and
// refund_order, which are reached through apply_stripe_event.
const appFunctions = [
  'checkout.apply_stripe_event(text,text,jsonb,text)',
  'checkout.attach_payment_intent(uuid,text,uuid)',
  'checkout.claim_order_for_expiry(uuid,text,interval,interval)',
  'checkout.create_order(text,text,text,jsonb,interval)',
  'checkout.end_checkout_attempt(uuid,uuid,text,text)',
  'checkout.expire_order(uuid,text,uuid,text)',
  'checkout.list_products(text,integer)',
  'checkout.order_json(uuid)',
  'checkout.orders_due_for_check(interval,integer,boolean)',
  'checkout.orders_due_for_payment_intent_sweep(interval,integer)',
  'checkout.outbox_delivery_status(name)',
  'checkout.purge_outbox(interval,name)',
  'checkout.record_order_check(uuid,boolean)',
  'checkout.record_payment_intent_sweep(uuid,text)',
  'checkout.record_unreadable_stripe_event(text,text,text,uuid,text,bytea)',
  'checkout.release_checkout_lease(uuid,uuid)',
  'checkout.transition_counts()',
];
const tables = [
  'products', 'currency_limits', 'orders', 'order_lines', 'order_status_transitions', 'order_status_history', 'stripe_events',
  'payment_anomalies', 'pending_order_checks', 'outbox', 'cdc_heartbeat', 'outbox_retention_marks', 'checkout_attempts',
  'payment_intent_sweeps',
];
const views = ['order_timeline', 'stale_pending_orders', 'open_payment_anomalies'];

const executableBy = (role: string) =>
  db.admin.anyFirst(sql.type(z.object({ f: z.string() }))`
    select p.oid::regprocedure::text as f from pg_proc p
     where p.pronamespace = 'checkout'::regnamespace and has_function_privilege(${role}, p.oid, 'execute')
     order by 1`);

describe('checkout_app', () => {
  it('may execute exactly the API functions', async () => {
    expect(await executableBy('checkout_app')).toEqual(appFunctions);
  });

  it('can call each of them', async () => {
    const { orderId, checkoutToken } = await createOrder(db.app);
    const pi = paymentIntentIdFor(orderId);
    const q = (query: ReturnType<typeof sql.unsafe>) => db.app.query(query);
    await q(sql.unsafe`select checkout.release_checkout_lease(${orderId}, ${checkoutToken})`);
    await q(sql.unsafe`select checkout.end_checkout_attempt(${orderId}, ${checkoutToken}, 'stripe_error', 'api_error 500')`);
    await q(sql.unsafe`select * from checkout.orders_due_for_payment_intent_sweep('0 seconds', 10)`);
    await q(sql.unsafe`select checkout.record_payment_intent_sweep(${orderId}, 'clean')`);
    await q(sql.unsafe`select checkout.attach_payment_intent(${orderId}, ${pi}, ${checkoutToken})`);
    await q(sql.unsafe`select checkout.order_json(${orderId})`);
    await q(sql.unsafe`select * from checkout.list_products(null, 10)`);
    await q(sql.unsafe`select * from checkout.orders_due_for_check('0 seconds', 10, false)`);
    await q(sql.unsafe`select checkout.record_order_check(${orderId}, false)`);
    await q(sql.unsafe`select * from checkout.transition_counts()`);
    const confirmed = eventTo('PAYMENT_CONFIRMED', orderId);
    expect(await applyEvent(db.app, confirmed.type, confirmed.object)).toBe('applied');
    const other = (await createOrder(db.app)).orderId;
    const cancelled = eventTo('CANCELLED', other);
    expect(await applyEvent(db.app, cancelled.type, cancelled.object)).toBe('applied');
    const third = (await createOrder(db.app)).orderId;
    // expireOrderAsJob calls claim_order_for_expiry, then expire_order.
    expect(await db.app.oneFirst(expireOrderAsJob(third))).toBe('applied');
    const event = await db.app.oneFirst(sql.unsafe`select checkout.apply_stripe_event('evt_priv_1', 'customer.created', '{}'::jsonb) ->> 'outcome'`);
    expect(event).toBe('ignored');
    const unreadable = await db.app.oneFirst(sql.unsafe`
      select checkout.record_unreadable_stripe_event('evt_priv_2', null, null, null, 'test', convert_to('{}', 'UTF8')) ->> 'outcome'`);
    expect(unreadable).toBe('anomaly');
  });

  it.each([
    ['UPDATE orders', (id: string) => sql.unsafe`update checkout.orders set amount_total = 1 where id = ${id}`],
    ['DELETE orders', (id: string) => sql.unsafe`delete from checkout.orders where id = ${id}`],
    ['SELECT orders', (id: string) => sql.unsafe`select * from checkout.orders where id = ${id}`],
    ['UPDATE products', () => sql.unsafe`update checkout.products set unit_amount = 1 where sku = 'MILK-2L'`],
    ['INSERT outbox', (id: string) => sql.unsafe`
      insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload)
      values (gen_random_uuid(), 'Order', ${id}, 'OrderConfirmed', '{}')`],
    ['INSERT history', (id: string) => sql.unsafe`
      insert into checkout.order_status_history (order_id, to_status, source) values (${id}, 'REFUNDED', 'forged')`],
    ['call confirm_payment', (id: string) => sql.unsafe`select checkout.confirm_payment(${id}, ${paymentIntentIdFor(id)}, 1198, 'nzd', 'forged')`],
    ['call cancel_order', (id: string) => sql.unsafe`select checkout.cancel_order(${id}, 'forged', 'forged')`],
    ['call close_order', (id: string) => sql.unsafe`select checkout.close_order(${id}, 'CANCELLED', 'x', 'x', null)`],
    ['call set_transition_context', () => sql.unsafe`select checkout.set_transition_context('stripe_webhook', 'forged', 'evt_x')`],
    ['call order_confirmed_payload', (id: string) => sql.unsafe`select checkout.order_confirmed_payload(${id}, gen_random_uuid(), now())`],
  ])('cannot %s (42501), and nothing changes', async (_name, statement) => {
    const orderId = await orderIn(db, 'PENDING_PAYMENT');
    expect(await sqlstateOf(db.app.query(statement(orderId)))).toBe('42501');
    const after = await db.admin.one(sql.unsafe`
      select o.status, o.amount_total::int, p.unit_amount::int from checkout.orders o, checkout.products p
       where o.id = ${orderId} and p.sku = 'MILK-2L'`);
    expect(after).toEqual({ status: 'PENDING_PAYMENT', amount_total: 1198, unit_amount: 599 });
    expect(await countRows(db.admin, 'outbox', orderId)).toBe(0);
    expect(await countRows(db.admin, 'order_status_history', orderId)).toBe(1);
  });

  it('cannot refund through refund_order (42501): the money stays recorded as received', async () => {
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    expect(await sqlstateOf(db.app.query(sql.unsafe`select checkout.refund_order(${orderId}, 1198, 'forged', 'forged')`))).toBe('42501');
    expect(await db.admin.one(sql.unsafe`select status, amount_refunded::int from checkout.orders where id = ${orderId}`))
      .toEqual({ status: 'PAYMENT_CONFIRMED', amount_refunded: 0 });
  });
});

describe('checkout_readonly', () => {
  it.each([...tables, ...views])('can SELECT checkout.%s', async (relation) => {
    await orderIn(db, 'PAYMENT_CONFIRMED');
    const count = sql.unsafe`select count(*)::int from ${sql.identifier(['checkout', relation])}`;
    expect(await readonly.oneFirst(count)).toBe(await db.admin.oneFirst(count));
  });

  it.each([
    ['INSERT products', sql.unsafe`insert into checkout.products (sku, name, unit_amount) values ('RO-1', 'x', 1)`],
    ['UPDATE products', sql.unsafe`update checkout.products set unit_amount = 1`],
    ['DELETE outbox', sql.unsafe`delete from checkout.outbox`],
    ['UPDATE orders', sql.unsafe`update checkout.orders set customer_id = 'x'`],
    ['call create_order', sql.unsafe`select checkout.create_order('ro-key', 'c-1', 'nzd', '[{"sku":"MILK-2L","quantity":1}]')`],
  ])('cannot %s (42501)', async (_name, statement) => {
    expect(await sqlstateOf(readonly.query(statement))).toBe('42501');
  });

  it('may execute only the read functions', async () => {
    expect(await executableBy('checkout_readonly')).toEqual([
      'checkout.list_products(text,integer)', 'checkout.order_json(uuid)', 'checkout.outbox_delivery_status(name)', 'checkout.pending_orders_older_than(interval)',
      'checkout.transition_counts()',
    ]);
  });
});

describe('checkout_cdc', () => {
  it('has REPLICATION and reads the outbox', async () => {
    const role = await db.admin.one(sql.unsafe`select rolreplication, rolcanlogin from pg_roles where rolname = 'checkout_cdc'`);
    expect(role).toEqual({ rolreplication: true, rolcanlogin: true });
    const orderId = await orderIn(db, 'PAYMENT_CONFIRMED');
    expect(await cdc.oneFirst(sql.unsafe`select count(*)::int from checkout.outbox where aggregateid = ${orderId}`)).toBe(1);
  });

  // The heartbeat table is Debezium's own (heartbeat.action.query), the outbox what it streams.
  it.each(tables.filter((t) => t !== 'outbox' && t !== 'cdc_heartbeat'))('cannot SELECT checkout.%s (42501)', async (table) => {
    expect(await sqlstateOf(cdc.query(sql.unsafe`select 1 from ${sql.identifier(['checkout', table])} limit 1`))).toBe('42501');
  });

  // pending_orders_older_than is SECURITY DEFINER and reads orders: PUBLIC EXECUTE would hand
  // customer ids to Debezium's role (0008 once had it, as a per-schema default ACL cannot revoke it).
  it('executes no function (reads the outbox, writes only heartbeats)', async () => {
    expect(await executableBy('checkout_cdc')).toEqual([]);
  });
});

describe('PUBLIC', () => {
  // ALTER DEFAULT PRIVILEGES IN SCHEMA cannot revoke PostgreSQL's global PUBLIC EXECUTE, so each
  // migration must revoke it on its own functions (migrations/CONVENTIONS.md); this catches a miss.
  it('holds EXECUTE on no function of schema checkout', async () => {
    const publicly = await db.admin.anyFirst(sql.type(z.object({ f: z.string() }))`
      select p.oid::regprocedure::text as f from pg_proc p
       where p.pronamespace = 'checkout'::regnamespace
         and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      where a.grantee = 0 and a.privilege_type = 'EXECUTE')`);
    expect(publicly).toEqual([]);
  });

  it('a role with nothing but schema usage cannot call the API (42501)', async () => {
    // Schema usage granted on purpose so that only the functions' own ACL can refuse the call.
    const role = `checkout_test_nobody_${randomBytes(4).toString('hex')}`;
    await db.admin.query(sql.unsafe`create role ${sql.identifier([role])} login`);
    await db.admin.query(sql.unsafe`grant usage on schema checkout to ${sql.identifier([role])}`);
    const nobody = await createDatabasePool(loginUrl(db.url, role));
    try {
      expect(await sqlstateOf(nobody.query(sql.unsafe`
        select checkout.create_order('nobody-key', 'c-1', 'nzd', '[{"sku":"MILK-2L","quantity":1}]')`))).toBe('42501');
      expect(await sqlstateOf(nobody.query(sql.unsafe`select checkout.order_json(gen_random_uuid())`))).toBe('42501');
      expect(await sqlstateOf(nobody.query(sql.unsafe`
        select checkout.apply_stripe_event('evt_nobody', 'charge.refunded', '{}')`))).toBe('42501');
    } finally {
      await nobody.end();
      await db.admin.query(sql.unsafe`revoke usage on schema checkout from ${sql.identifier([role])}`);
      await db.admin.query(sql.unsafe`drop role ${sql.identifier([role])}`);
    }
  });
});
