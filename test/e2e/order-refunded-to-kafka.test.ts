// The tenet with refunds, end to end: checkout → the simulator takes the payment and the refunds →
// signed webhooks (in either order, or missed and found by reconciliation) → outbox → Debezium →
// Kafka. The exact messages each case gives on the two topics, and none for a payment refunded in
// full before its confirmation. Also: orders paid before the CDC stack first ran, and /metrics.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { SeenIds } from '../../src/events/event-message.ts';
import { eventSchemaErrors } from '../../src/events/event-schemas.ts';
import { reconcilePendingPayments } from '../../src/jobs/reconcile-pending-payments.ts';
import { collectEvents, startCdc, type CdcHandle, type CollectedMessage, type EventCollector, isTestDatabase } from '../support/cdc.ts';
import { checkoutBasket, request, startTestService, type TestService } from '../support/service.ts';
import { orderRow, postEvent, stripeEvent } from '../support/stripe-events.ts';
import { waitUntil } from '../support/wait.ts';

let service: TestService;
let cdc: CdcHandle;
let events: EventCollector;
const paidBeforeCdc: string[] = [];

type Order = { orderId: string; paymentIntentId: string };

async function pay(order: Order): Promise<void> {
  await service.stripe.paymentIntents.confirm(order.paymentIntentId, { payment_method: 'pm_card_visa' });
}

beforeAll(async () => {
  service = await startTestService();
  // Paid (and confirmed by the webhook) before the CDC stack ever ran for this database.
  for (let i = 0; i < 2; i++) {
    const order = await checkoutBasket(service);
    await pay(order);
    paidBeforeCdc.push(order.orderId);
  }
  await service.simulator.webhooks.idle();
  cdc = await startCdc({ databaseUrl: service.db.url, releaseSlotOf: isTestDatabase });
  events = await collectEvents(cdc);
}, 300_000);

afterAll(async () => {
  await events?.close();
  await cdc?.stop();
  await service?.stop();
}, 120_000);

/**
 * What reached Kafka for an order, de-duplicated on the id header as consumers do, once a later
 * order's OrderConfirmed and OrderRefunded have arrived: each topic has one partition and Debezium
 * sends in commit order, so nothing written before them is still on its way. The OrderConfirmed
 * topic's messages first, then the OrderRefunded topic's, each in its topic's order (there is no
 * order across two topics: a consumer holds a refund until its confirmation, src/events/tail-events.ts).
 */
async function messagesFor(orderId: string): Promise<Array<[string | null, unknown, unknown, unknown]>> {
  const control = await checkoutBasket(service);
  await pay(control);
  await service.stripe.refunds.create({ payment_intent: control.paymentIntentId, amount: 1 });
  await events.waitFor((all) => ['OrderConfirmed', 'OrderRefunded'].every((t) => all.some((m) => m.key === control.orderId && m.type === t)), 60_000);
  const seen = new SeenIds();
  const byTopic = (m: CollectedMessage) => (m.topic === cdc.topics.confirmed ? 0 : 1);
  return events.messages
    .filter((m) => m.key === orderId && m.id !== null && seen.firstTime(m.id))
    .sort((a, b) => byTopic(a) - byTopic(b))
    .map((m) => {
      expect(eventSchemaErrors(m.type, m.value)).toEqual([]);
      expect(m.topic).toBe(m.type === 'OrderConfirmed' ? cdc.topics.confirmed : cdc.topics.refunded);
      const v = m.value as Record<string, unknown>;
      return [m.type, v.amountRefunded, v.amountRefundedTotal, v.refundedInFull];
    });
}
const confirmed = ['OrderConfirmed', undefined, undefined, undefined];
const refunded = (amount: number, total: number, inFull: boolean) => ['OrderRefunded', amount, total, inFull];

/** The events the simulator created for a PaymentIntent, by type (its charge events name it too). */
function eventOf(paymentIntentId: string, type: string) {
  const found = service.simulator.webhooks.events.find((e) =>
    e.type === type && (e.data.object.id === paymentIntentId || e.data.object.payment_intent === paymentIntentId));
  if (!found) throw new Error(`no ${type} event for ${paymentIntentId}`);
  return found;
}

/** Pays and refunds with webhooks paused, then delivers only the named events, in that order. */
async function withWebhooksIn(order: Order, refunds: number[], deliver: string[]): Promise<void> {
  service.simulator.webhooks.pause();
  try {
    await pay(order);
    for (const amount of refunds) await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount });
    for (const type of deliver) await service.simulator.webhooks.send(eventOf(order.paymentIntentId, type));
  } finally {
    service.simulator.webhooks.reset(); // the paused copies go out too: duplicates, absorbed by the ledger
    await service.simulator.webhooks.idle();
  }
}

describe('orders paid before the CDC stack first ran', () => {
  it('arrive, each once', async () => {
    await events.waitFor((all) => paidBeforeCdc.every((id) => all.some((m) => m.key === id)), 60_000);
    for (const orderId of paidBeforeCdc) expect(await messagesFor(orderId)).toEqual([confirmed]);
  });
});

describe('refunds reach the ERP; a payment refunded before its confirmation is never sent as OrderConfirmed', () => {
  it('after the confirmation, a partial refund then the rest: OrderConfirmed, OrderRefunded 500, OrderRefunded 698 in full', async () => {
    const order = await checkoutBasket(service);
    await pay(order);
    await service.simulator.webhooks.idle();
    await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount: 500 });
    await service.simulator.webhooks.idle();
    await service.stripe.refunds.create({ payment_intent: order.paymentIntentId });
    await service.simulator.webhooks.idle();
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe('REFUNDED');
    expect(await messagesFor(order.orderId)).toEqual([confirmed, refunded(500, 500, false), refunded(698, 1198, true)]);
  });

  it.each([
    ['succeeded first', ['payment_intent.succeeded', 'charge.refunded']],
    ['charge.refunded first', ['charge.refunded', 'payment_intent.succeeded']],
  ])('a partial refund, webhooks in either order (%s): OrderConfirmed then OrderRefunded 400', async (_order, deliver) => {
    const order = await checkoutBasket(service);
    await withWebhooksIn(order, [400], deliver);
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'PAYMENT_CONFIRMED', amount_refunded: 400 });
    expect(await messagesFor(order.orderId)).toEqual([confirmed, refunded(400, 400, false)]);
  });

  it('refunded in full before the confirmation: REFUNDED and no message at all', async () => {
    const order = await checkoutBasket(service);
    await withWebhooksIn(order, [1198], ['charge.refunded', 'payment_intent.succeeded']);
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'REFUNDED', amount_refunded: 1198 });
    expect(await messagesFor(order.orderId)).toEqual([]);
  });

  it.each([
    [400, 'PAYMENT_CONFIRMED', [confirmed, refunded(400, 400, false)]],
    [1198, 'REFUNDED', []],
  ])('every webhook missed, reconciliation finds the payment and its refund of %i: %s', async (amount, status, expected) => {
    const order = await checkoutBasket(service);
    service.simulator.webhooks.pause();
    try {
      await pay(order);
      await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount });
      await reconcilePendingPayments({ pool: service.pool, stripe: service.stripe, logger: pino({ level: 'silent' }) }, { olderThanSeconds: 0, batchSize: 100 });
    } finally {
      service.simulator.webhooks.reset();
      await service.simulator.webhooks.idle();
    }
    expect((await orderRow(service.db.admin, order.orderId)).status).toBe(status);
    expect(await messagesFor(order.orderId)).toEqual(expected);
  });

  it.each([
    ['after the refund was applied', true],
    ['before the payment was confirmed', false],
  ])('a failed refund (charge.refund.updated, failed) %s: an anomaly for a person, no message of its own', async (_when, confirmedFirst) => {
    const order = await checkoutBasket(service);
    const failed = () => postEvent(service, stripeEvent('charge.refund.updated', {
      id: `re_${randomUUID().replaceAll('-', '').slice(0, 24)}`, object: 'refund', amount: 300, currency: 'nzd', status: 'failed',
      failure_reason: 'expired_or_canceled_card', charge: eventOf(order.paymentIntentId, 'charge.refunded').data.object.id,
      payment_intent: order.paymentIntentId, metadata: {},
    }));
    if (confirmedFirst) {
      await pay(order);
      await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount: 300 });
      await service.simulator.webhooks.idle();
      expect((await failed()).body).toMatchObject({ outcome: 'anomaly' });
    } else {
      service.simulator.webhooks.pause();
      try {
        await pay(order);
        await service.stripe.refunds.create({ payment_intent: order.paymentIntentId, amount: 300 });
        await service.simulator.webhooks.send(eventOf(order.paymentIntentId, 'charge.refunded'));
        expect((await failed()).body).toMatchObject({ outcome: 'anomaly' });
        await service.simulator.webhooks.send(eventOf(order.paymentIntentId, 'payment_intent.succeeded'));
      } finally {
        service.simulator.webhooks.reset();
        await service.simulator.webhooks.idle();
      }
    }
    const anomalies = await service.db.admin.anyFirst(sql.type(z.object({ kind: z.string() }))`
      select kind from checkout.open_payment_anomalies where order_id = ${order.orderId}`);
    expect(anomalies).toEqual(['refund_failed']);
    // Already announced, it stays announced (the person follows up); not yet announced, it never is.
    expect(await messagesFor(order.orderId)).toEqual(confirmedFirst ? [confirmed, refunded(300, 300, false)] : [confirmed]);
  });
});

describe('/metrics follows the slot', () => {
  const gauge = async (name: string): Promise<number | undefined> => {
    const text = (await request(service, 'GET', '/metrics')).body as string;
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  it('active while Connect streams; inactive, and falling behind, while it is down; caught up after', async () => {
    await waitUntil('the slot is reported active', async () => (await gauge('checkout_outbox_slot_active')) === 1);
    expect(await gauge('checkout_outbox_slot_exists')).toBe(1);
    expect(await gauge('checkout_outbox_oldest_event_age_seconds')).toBeGreaterThanOrEqual(0);

    await cdc.killConnect('SIGTERM');
    try {
      await waitUntil('the slot is reported inactive', async () => (await gauge('checkout_outbox_slot_active')) === 0);
      const lagBefore = (await gauge('checkout_outbox_slot_lag_bytes'))!;
      const order = await checkoutBasket(service);
      await pay(order);
      await service.simulator.webhooks.idle();
      await waitUntil('the lag grows with the confirmation', async () => (await gauge('checkout_outbox_slot_lag_bytes'))! > lagBefore);
    } finally {
      await cdc.restartConnect();
    }
    await waitUntil('the slot is reported active again', async () => (await gauge('checkout_outbox_slot_active')) === 1);
    const lagWhileDown = (await gauge('checkout_outbox_slot_lag_bytes'))!;
    await waitUntil('the slot catches up', async () => (await gauge('checkout_outbox_slot_lag_bytes'))! < lagWhileDown, 60_000, 500);
  }, 180_000);
});
