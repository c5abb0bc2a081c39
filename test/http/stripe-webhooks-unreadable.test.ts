// Issue 8.5 / 10.1: a correctly signed body that is not a readable Stripe event never reaches
// apply_stripe_event and never gets a 5xx (Stripe would retry it for three days): it is recorded as an
// unreadable_event anomaly, answered 200, and its redelivery is a duplicate. The order it names stays
// as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { MAX_EVENT_DEPTH } from '../../src/http/stripe-event-schema.ts';
import { checkoutBasket, request, startTestService, type TestService } from '../support/service.ts';
import { orderRow, paymentIntentObject, postEvent, stripeEvent } from '../support/stripe-events.ts';

let service: TestService;
let order: { orderId: string; paymentIntentId: string; amountTotal: number };
beforeAll(async () => {
  service = await startTestService();
  const created = await checkoutBasket(service);
  order = { ...created, amountTotal: (await request(service, 'GET', `/orders/${created.orderId}`)).body.amountTotal };
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const succeeded = (over: Record<string, unknown> = {}) =>
  stripeEvent('payment_intent.succeeded', { ...paymentIntentObject({ id: order.paymentIntentId, orderId: order.orderId, amount: order.amountTotal }), ...over });
/** An event whose data.object nests `depth` levels, written as text (JSON.stringify itself would overflow). */
const nestedEvent = (depth: number) =>
  JSON.stringify(stripeEvent('customer.created', { placeholder: 1 }))
    .replace('{"placeholder":1}', `${'{"a":'.repeat(depth - 1)}{"a":"bottom"}${'}'.repeat(depth - 1)}`);

const unreadableAnomalies = () =>
  service.db.admin.oneFirst(sql.type(z.object({ n: z.number() }))`
    select count(*)::int as n from checkout.payment_anomalies where kind = 'unreadable_event'`);

// [case, signed body]
const cases: Array<[string, () => string]> = [
  ['a null body', () => 'null'],
  ['a body that is not JSON', () => 'type=payment_intent.succeeded&id=evt_1'],
  ['a JSON array', () => '[1,2,3]'],
  ['a thin event notification', () => JSON.stringify({ id: `evt_${randomUUID().replaceAll('-', '')}`, object: 'v2.core.event', type: 'v1.billing.meter.no_meter_found' })],
  ['no data', () => JSON.stringify({ ...succeeded(), data: undefined })],
  ['no data.object', () => JSON.stringify({ ...succeeded(), data: {} })],
  ['data.object an array', () => JSON.stringify({ ...succeeded(), data: { object: [] } })],
  ['a null id', () => JSON.stringify({ ...succeeded(), id: null })],
  ['an object id', () => JSON.stringify({ ...succeeded(), id: { evt: 1 } })],
  ['an array type', () => JSON.stringify({ ...succeeded(), type: ['payment_intent.succeeded'] })],
  ['a null type', () => JSON.stringify({ ...succeeded(), type: null })],
  ['a 10 KB event id', () => JSON.stringify({ ...succeeded(), id: `evt_${'A'.repeat(10_240)}` })],
  ['a 10,000-character type', () => JSON.stringify({ ...succeeded(), type: `a.${'b'.repeat(10_000)}` })],
  ['NUL in a string of data.object', () => JSON.stringify(succeeded({ description: 'a\u0000b' }))],
  ['NUL in metadata.order_id', () => JSON.stringify(succeeded({ metadata: { order_id: `${order.orderId}\u0000` } }))],
  ['a lone surrogate in a string', () => JSON.stringify(succeeded({ description: 'x\ud800y' }))],
  ['a lone surrogate in a key', () => JSON.stringify(succeeded({ ['k\udc00']: 1 }))],
  ['NUL in the event id', () => JSON.stringify({ ...succeeded(), id: 'evt_1\u0000' })],
  ['a non-integer amount_received', () => JSON.stringify(succeeded({ amount_received: order.amountTotal + 0.5 }))],
  ['a string amount_received', () => JSON.stringify(succeeded({ amount_received: String(order.amountTotal) }))],
  ['amount_received 1e300', () => JSON.stringify(succeeded({ amount_received: 1e300 }))],
  ['a negative amount_received', () => JSON.stringify(succeeded({ amount_received: -order.amountTotal }))],
  ['a non-integer amount_refunded', () => JSON.stringify(stripeEvent('charge.refunded', {
    id: 'ch_1', object: 'charge', amount: 100, amount_refunded: 99.5, currency: 'nzd', refunded: false, payment_intent: order.paymentIntentId, metadata: { order_id: order.orderId },
  }))],
  ['a refund with a non-integer amount', () => JSON.stringify(stripeEvent('charge.refund.updated', {
    id: 're_1', object: 'refund', amount: 'ten', currency: 'nzd', status: 'failed', charge: 'ch_1', payment_intent: order.paymentIntentId, failure_reason: null, metadata: {},
  }))],
  [`data.object nested deeper than ${MAX_EVENT_DEPTH} levels`, () => nestedEvent(MAX_EVENT_DEPTH)],
  ['data.object nested 5000 levels', () => nestedEvent(5_000)],
  ['livemode a string', () => JSON.stringify({ ...succeeded(), livemode: 'false' })],
];

describe('POST /webhooks/stripe with a signed body that is not a readable event', () => {
  it.each(cases)('%s → 200 anomaly (unreadable_event), the order untouched; redelivered → duplicate', async (_name, body) => {
    const payload = body();
    const before = await unreadableAnomalies();
    const first = await postEvent(service, payload);
    expect(first).toMatchObject({ status: 200, body: { received: true, outcome: 'anomaly' } });
    expect(await unreadableAnomalies()).toBe(before + 1);
    const again = await postEvent(service, payload);
    expect(again).toMatchObject({ status: 200, body: { received: true, outcome: 'duplicate' } });
    expect(await unreadableAnomalies()).toBe(before + 1);
    expect(await orderRow(service.db.admin, order.orderId)).toMatchObject({ status: 'PENDING_PAYMENT', amount_received: null });
  });

  it('links the anomaly to the order and PaymentIntent its content names, for a person to act on', async () => {
    const event = succeeded({ amount_received: 12.5 });
    const response = await postEvent(service, JSON.stringify(event));
    expect(response.body).toEqual({ received: true, outcome: 'anomaly', orderId: order.orderId });
    const anomaly = await service.db.admin.one(sql.type(z.object({ order_id: z.string().nullable(), payment_intent_id: z.string().nullable(), detail: z.any() }))`
      select order_id, payment_intent_id, detail from checkout.payment_anomalies where stripe_event_id = ${event.id}`);
    expect(anomaly).toMatchObject({ order_id: order.orderId, payment_intent_id: order.paymentIntentId });
    expect(anomaly.detail.reason).toMatch(/data\.object\.amount_received/);
  });

  it('a readable event still applies: control for the cases above (nesting just within the bound)', async () => {
    expect(await postEvent(service, JSON.stringify(stripeEvent('customer.created', { id: 'cus_1', object: 'customer' }))))
      .toMatchObject({ status: 200, body: { outcome: 'ignored' } });
    expect(await postEvent(service, nestedEvent(MAX_EVENT_DEPTH - 2))).toMatchObject({ status: 200, body: { outcome: 'ignored' } });
  });

  it('metrics name event types from a closed set: handled types, other, unreadable', async () => {
    const metrics = (await request(service, 'GET', '/metrics')).body as string;
    const types = [...metrics.matchAll(/^checkout_stripe_events_total\{type="([^"]*)"/gm)].map((m) => m[1]);
    expect(types).toContain('unreadable');
    expect(types).toContain('other');
    expect(types.filter((t) => !['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled', 'charge.refunded', 'charge.refund.updated', 'other', 'unreadable'].includes(t!))).toEqual([]);
    expect(metrics).not.toMatch(/bbbbbbbbbb/);
  });
});
