// The tenet as a property (issue "The tenet in every case"): random sequences of checkouts, resumes,
// payments, declines, cancellations, refunds, failed refunds, Stripe events delivered duplicated,
// reordered, late or never, and runs of the real expiry and reconciliation jobs, against the real
// database and a model of Stripe (test/support/stripe-model.ts). After every step the outbox and the
// audit trail must tell the truth; once every event is delivered and reconciliation has run, no paid
// order may be left without either its confirmation or an anomaly for a person.
//   PROPERTY_RUNS=500 npm test -- test/db/interleavings      more runs
//   PROPERTY_SEED=<seed> PROPERTY_PATH=<path> npm test -- …   replay a failure as fast-check printed it
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { applyStripeEvent, attachPaymentIntent, createOrder, endCheckoutAttempt } from '../../src/db/checkout-functions.ts';
import { expireAbandonedOrders } from '../../src/jobs/expire-abandoned-orders.ts';
import { reconcilePendingPayments } from '../../src/jobs/reconcile-pending-payments.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedCatalog } from '../support/orders.ts';
import { StripeModel, type ModelPaymentIntent } from '../support/stripe-model.ts';

let db: TestDatabase;
let legal: Set<string>;
const stripe = new StripeModel('prop');
const logger = pino({ level: 'silent' });
const SLOTS = 3;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
  legal = new Set(await db.admin.anyFirst(sql.type(z.object({ t: z.string() }))`
    select from_status || '>' || to_status as t from checkout.order_status_transitions`));
});
afterAll(async () => db?.drop());

type Action =
  | { kind: 'checkout'; slot: number; stripeFails: boolean }
  | { kind: 'pay' | 'decline' | 'cancel' | 'failRefund'; slot: number }
  | { kind: 'refund'; slot: number; quarters: number }
  | { kind: 'deliver'; pick: number; keepForDuplicate: boolean }
  | { kind: 'expire' | 'reconcile' };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('checkout' as const), slot, stripeFails: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('pay' as const), slot }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constantFrom('decline' as const, 'cancel' as const, 'failRefund' as const), slot }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('refund' as const), slot, quarters: fc.integer({ min: 1, max: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), keepForDuplicate: fc.boolean() }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constantFrom('expire' as const, 'reconcile' as const) }), weight: 1 },
);

/** One run: its own idempotency keys, so runs (and fast-check's shrinking replays) do not meet. */
class Run {
  private static count = 0;
  readonly id = `${Date.now().toString(36)}-${(Run.count += 1)}`;
  readonly orders = new Map<number, { orderId: string; total: number; pi?: ModelPaymentIntent }>();

  constructor() {
    stripe.queue.length = 0; // what a failed earlier run left undelivered is not this run's
  }

  async step(a: Action): Promise<void> {
    switch (a.kind) {
      case 'checkout':
        return this.checkout(a.slot, a.stripeFails);
      case 'pay':
        return void this.withPaymentIntent(a.slot, (pi) => stripe.pay(pi));
      case 'decline':
        return void this.withPaymentIntent(a.slot, (pi) => stripe.decline(pi));
      case 'failRefund':
        return void this.withPaymentIntent(a.slot, (pi) => stripe.failRefund(pi));
      case 'cancel':
        return void this.withPaymentIntent(a.slot, (pi) => stripe.cancel(pi, 'requested_by_customer'));
      case 'refund':
        return void this.withPaymentIntent(a.slot, (pi) => stripe.refund(pi, Math.ceil((pi.amount * a.quarters) / 4)));
      case 'deliver':
        return this.deliver(a.pick, a.keepForDuplicate);
      case 'expire':
        return void (await expireAbandonedOrders({ pool: db.app, stripe: stripe.client, logger }, { olderThanSeconds: 0, batchSize: 100, claimSeconds: 60 }));
      case 'reconcile':
        return void (await reconcilePendingPayments({ pool: db.app, stripe: stripe.client, logger }, { olderThanSeconds: 0, batchSize: 100 }));
    }
  }

  /** POST /checkout's sequence (src/checkout/start-checkout.ts) with Stripe's answer from the model. */
  private async checkout(slotNo: number, stripeFails: boolean): Promise<void> {
    const quantity = slotNo + 1;
    const result = await createOrder(db.app, {
      idempotencyKey: `prop-${this.id}-${slotNo}`, customerId: 'c-prop', currency: 'nzd',
      items: [{ sku: 'MILK-2L', quantity }], leaseSeconds: 0,
    });
    const { order } = result;
    const known = this.orders.get(slotNo) ?? { orderId: order.orderId, total: order.amountTotal };
    this.orders.set(slotNo, known);
    // Replayed (a PaymentIntent is attached, or the order is paid) or closed: nothing to do at Stripe.
    if (result.outcome !== 'created' && result.outcome !== 'resumed') return;
    if (stripeFails) return void (await endCheckoutAttempt(db.app, order.orderId, result.checkoutToken, 'stripe_error', 'api_error 500 (model)'));
    known.pi ??= stripe.createPaymentIntent(order.orderId, order.amountTotal);
    await attachPaymentIntent(db.app, order.orderId, known.pi.id, result.checkoutToken);
  }

  private withPaymentIntent(slotNo: number, act: (pi: ModelPaymentIntent) => void): void {
    const pi = this.orders.get(slotNo)?.pi;
    if (pi) act(pi);
  }

  private async deliver(pick: number, keepForDuplicate: boolean): Promise<void> {
    if (stripe.queue.length === 0) return;
    const index = pick % stripe.queue.length;
    const event = stripe.queue[index]!;
    if (!keepForDuplicate) stripe.queue.splice(index, 1);
    await applyStripeEvent(db.app, event);
  }

  /** Stripe delivers everything it still has, then reconciliation runs once. */
  async settle(): Promise<void> {
    while (stripe.queue.length > 0) await applyStripeEvent(db.app, stripe.queue.shift()!);
    await reconcilePendingPayments({ pool: db.app, stripe: stripe.client, logger }, { olderThanSeconds: 0, batchSize: 100 });
    while (stripe.queue.length > 0) await applyStripeEvent(db.app, stripe.queue.shift()!);
  }
}

const orderRow = z.object({
  id: z.string(), status: z.string(), amount_total: z.number(), amount_received: z.number().nullable(),
  amount_refunded: z.number(), confirmed_event_id: z.string().nullable(),
});
const historyRow = z.object({ order_id: z.string(), from_status: z.string().nullable(), to_status: z.string() });
const outboxRow = z.object({ aggregateid: z.string(), id: z.string(), type: z.string(), txid: z.string(), payload: z.record(z.string(), z.any()) });

/** The invariants that hold after every step, for this run's orders. */
async function checkSafety(run: Run): Promise<void> {
  const ids = [...run.orders.values()].map((o) => o.orderId);
  if (ids.length === 0) return;
  const orders = await db.admin.any(sql.type(orderRow)`
    select id::text, status::text, amount_total::int, amount_received::int, amount_refunded::int, confirmed_event_id::text
      from checkout.orders where id = any(${sql.array(ids, 'uuid')})`);
  const history = await db.admin.any(sql.type(historyRow)`
    select order_id::text, from_status::text, to_status::text from checkout.order_status_history
     where order_id = any(${sql.array(ids, 'uuid')}) order by id`);
  const outbox = await db.admin.any(sql.type(outboxRow)`
    select aggregateid, id::text, type, txid::text, payload from checkout.outbox
     where aggregateid = any(${sql.array(ids, 'text')}) order by txid, type`);

  for (const order of orders) {
    const path = history.filter((h) => h.order_id === order.id);
    // Each order's history replays, along legal moves only, to its status.
    expect(path[0]).toMatchObject({ from_status: null, to_status: 'PENDING_PAYMENT' });
    for (let i = 1; i < path.length; i++) {
      expect(path[i]!.from_status).toBe(path[i - 1]!.to_status);
      expect(legal.has(`${path[i]!.from_status}>${path[i]!.to_status}`)).toBe(true);
    }
    expect(path.at(-1)!.to_status).toBe(order.status);

    const events = outbox.filter((e) => e.aggregateid === order.id);
    const confirmations = events.filter((e) => e.type === 'OrderConfirmed');
    const refunds = events.filter((e) => e.type === 'OrderRefunded');
    // Every OrderConfirmed ↔ exactly one legal confirmation of a payment of the full amount.
    expect(confirmations).toHaveLength(path.filter((h) => h.to_status === 'PAYMENT_CONFIRMED').length);
    if (confirmations.length === 0) {
      expect(refunds).toEqual([]);
      continue;
    }
    const [confirmed] = confirmations;
    expect(confirmations).toHaveLength(1);
    expect(confirmed!.id).toBe(order.confirmed_event_id);
    expect(order.amount_received).toBe(order.amount_total);
    expect(confirmed!.payload).toMatchObject({ amountTotal: order.amount_total, payment: { amountReceived: order.amount_total } });
    // …and never of a payment refunded in full before it.
    for (const r of refunds.filter((e) => e.txid === confirmed!.txid)) expect(r.payload.amountRefundedTotal).toBeLessThan(order.amount_total);
    // Every refund applied after the confirmation ↔ one OrderRefunded, adding up to what was refunded.
    let total = 0;
    for (const r of refunds) {
      expect(r.payload.confirmedEventId).toBe(confirmed!.id);
      expect(r.payload.amountRefunded).toBeGreaterThan(0);
      total += r.payload.amountRefunded as number;
      expect(r.payload.amountRefundedTotal).toBe(total);
      expect(r.payload.refundedInFull).toBe(total >= order.amount_total);
    }
    expect(total).toBe(order.amount_refunded);
  }
}

/** Once Stripe has delivered everything and reconciliation ran: no paid order lost or closed silently. */
async function checkSettled(run: Run): Promise<void> {
  for (const { orderId, pi } of run.orders.values()) {
    const order = await db.admin.one(sql.type(orderRow)`
      select id::text, status::text, amount_total::int, amount_received::int, amount_refunded::int, confirmed_event_id::text
        from checkout.orders where id = ${orderId}`);
    const anomalies = await db.admin.anyFirst(sql.type(z.object({ kind: z.string() }))`
      select kind from checkout.payment_anomalies where order_id = ${orderId}`);
    const forAPerson = anomalies.length > 0;
    if (pi?.status === 'succeeded') {
      // Paid: confirmed (or refunded), or a person has been told.
      if (!['PAYMENT_CONFIRMED', 'REFUNDED'].includes(order.status) && !forAPerson) {
        throw new Error(`order ${orderId} was paid (${pi.id}) but is ${order.status}, with no anomaly for a person`);
      }
      // What was refunded is what Stripe refunded, unless a person has been told why not.
      if (!forAPerson) expect(order.amount_refunded).toBe(pi.amountRefunded);
    } else {
      expect(order.status).not.toBe('PAYMENT_CONFIRMED');
      expect(order.status).not.toBe('REFUNDED');
    }
  }
}

describe('the tenet over random interleavings (fast-check)', () => {
  it('holds after every step, and once everything is delivered', async () => {
    const runs = Number(process.env.PROPERTY_RUNS || 40);
    const seed = Number(process.env.PROPERTY_SEED || 20261127);
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 10, maxLength: 60, size: 'max' }), async (actions) => {
        const run = new Run();
        for (const a of actions) {
          await run.step(a);
          await checkSafety(run);
        }
        await run.settle();
        await checkSafety(run);
        await checkSettled(run);
      }),
      { numRuns: runs, seed, path: process.env.PROPERTY_PATH },
    );
  }, 600_000);
});
