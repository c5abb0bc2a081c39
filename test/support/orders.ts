import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { seedDemoCatalog } from '../../src/db/demo-catalog.ts';
import type { TestDatabase } from './database.ts';
import { chargeObject, paymentIntentObject } from './stripe-events.ts';

export const statuses = ['PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'] as const;
export type Status = (typeof statuses)[number];

export const legalTransitions: ReadonlyArray<readonly [Status, Status]> = [
  ['PENDING_PAYMENT', 'PAYMENT_CONFIRMED'],
  ['PENDING_PAYMENT', 'CANCELLED'],
  ['PENDING_PAYMENT', 'EXPIRED'],
  // A payment refunded in full before its confirmation was applied (migrations/0012).
  ['PENDING_PAYMENT', 'REFUNDED'],
  ['PAYMENT_CONFIRMED', 'REFUNDED'],
];

export async function seedCatalog(db: TestDatabase): Promise<void> {
  await seedDemoCatalog(db.admin);
}

const createdOrder = z.object({
  outcome: z.string(), checkoutToken: z.string(), order: z.object({ orderId: z.string(), amountTotal: z.number() }).passthrough(),
});

/**
 * A new PENDING_PAYMENT order (MILK-2L x2 = 1198 by default), created as the service does, whose
 * POST /checkout is over (its checkout lease ran out; checkoutToken is still the one that held it).
 */
export async function createOrder(
  pool: DatabasePool,
  items: Array<{ sku: string; quantity: number }> = [{ sku: 'MILK-2L', quantity: 2 }],
): Promise<{ orderId: string; amountTotal: number; checkoutToken: string }> {
  const result = await pool.oneFirst(sql.type(z.object({ r: createdOrder }))`
    select checkout.create_order(${randomUUID()}, 'c-123', 'nzd', ${sql.jsonb(items)}, interval '0 seconds') as r`);
  return { orderId: result.order.orderId, amountTotal: result.order.amountTotal, checkoutToken: result.checkoutToken };
}

/**
 * expire_order as the expiry job calls it, in one statement: claim the order (whatever its idle time),
 * then expire it with the PaymentIntent it has and the claim's token. The result column is `r`.
 */
export function expireOrderAsJob(orderId: string) {
  return sql.unsafe`
    select checkout.expire_order(o.id, o.pi,
             (checkout.claim_order_for_expiry(o.id, o.pi, interval '0 seconds', interval '1 minute')->>'checkoutToken')::uuid) as r
      from (select ${orderId}::uuid as id, checkout.order_json(${orderId})->>'paymentIntentId' as pi) o`;
}

export function paymentIntentIdFor(orderId: string): string {
  return `pi_test${orderId.replaceAll('-', '')}`;
}

/**
 * Applies a Stripe event as the webhook does: apply_stripe_event, the app's only way to confirm,
 * cancel or refund (issue 10.4). Returns the outcome.
 */
export async function applyEvent(
  pool: DatabasePool, type: string, object: Record<string, unknown>, eventId = `evt_test${randomUUID().replaceAll('-', '')}`,
): Promise<string> {
  return pool.oneFirst(sql.type(z.object({ outcome: z.string() }))`
    select checkout.apply_stripe_event(${eventId}, ${type}, ${sql.jsonb(object as never)}) ->> 'outcome' as outcome`);
}

/** The Stripe event (type and object) that moves an order to `status`, as the app can. */
export function eventTo(status: 'PAYMENT_CONFIRMED' | 'CANCELLED' | 'REFUNDED', orderId: string, amountTotal = 1198) {
  const pi = { id: paymentIntentIdFor(orderId), orderId, amount: amountTotal };
  switch (status) {
    case 'PAYMENT_CONFIRMED':
      return { type: 'payment_intent.succeeded', object: paymentIntentObject(pi) };
    case 'CANCELLED':
      return { type: 'payment_intent.canceled', object: paymentIntentObject({ ...pi, status: 'canceled' }) };
    case 'REFUNDED':
      return { type: 'charge.refunded', object: chargeObject({ ...pi, amountRefunded: amountTotal }) };
  }
}

/** Moves an order into `status` along legal paths, as the service does: Stripe events and the expiry job's function. */
export async function orderIn(db: TestDatabase, status: Status): Promise<string> {
  const { orderId, amountTotal } = await createOrder(db.app);
  const steps: Array<'PAYMENT_CONFIRMED' | 'CANCELLED' | 'REFUNDED'> =
    status === 'PAYMENT_CONFIRMED' ? ['PAYMENT_CONFIRMED']
    : status === 'REFUNDED' ? ['PAYMENT_CONFIRMED', 'REFUNDED']
    : status === 'CANCELLED' ? ['CANCELLED'] : [];
  for (const step of steps) {
    const { type, object } = eventTo(step, orderId, amountTotal);
    const outcome = await applyEvent(db.app, type, object);
    if (outcome !== 'applied') throw new Error(`${type} for order ${orderId} was ${outcome}, not applied`);
  }
  if (status === 'EXPIRED') await db.app.query(expireOrderAsJob(orderId));
  return orderId;
}

export async function statusOf(pool: DatabasePool, orderId: string): Promise<string> {
  return pool.oneFirst(sql.type(z.object({ status: z.string() }))`select status from checkout.orders where id = ${orderId}`);
}

export async function countRows(pool: DatabasePool, table: 'order_status_history' | 'outbox', orderId: string): Promise<number> {
  const query =
    table === 'outbox'
      ? sql.type(z.object({ n: z.number() }))`select count(*)::int as n from checkout.outbox where aggregateid = ${orderId}`
      : sql.type(z.object({ n: z.number() }))`select count(*)::int as n from checkout.order_status_history where order_id = ${orderId}`;
  return pool.oneFirst(query);
}

/** The SQLSTATE a promise rejects with; fails the test when it resolves. */
export async function sqlstateOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code ?? `no code: ${(error as Error).message}`;
  }
  throw new Error('expected the statement to fail, but it succeeded');
}

/**
 * Resolves once `count` sessions of this database wait for a lock in a statement containing `fragment`,
 * so a test can release a blocker knowing every racer is already queued behind it.
 */
export async function waitForLockWaiters(admin: DatabasePool, fragment: string, count: number): Promise<void> {
  for (;;) {
    const waiting = await admin.oneFirst(sql.type(z.object({ n: z.number() }))`
      select count(*)::int as n from pg_stat_activity
       where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()
         and position(${fragment} in query) > 0`);
    if (waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Ends the back-off record_order_check gave an order, as if its pause were over. */
export async function endBackOff(admin: DatabasePool, orderId: string): Promise<void> {
  await admin.query(sql.unsafe`update checkout.pending_order_checks set next_check_at = now() - interval '1 second' where order_id = ${orderId}`);
}

/** As if the order's last checkout activity was `minutes` ago: the jobs measure idle time from it. */
export async function idleFor(admin: DatabasePool, orderId: string, minutes: number): Promise<void> {
  await admin.query(sql.unsafe`update checkout.orders set last_checkout_at = now() - make_interval(mins => ${minutes}) where id = ${orderId}`);
}
