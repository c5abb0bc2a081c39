// Issue 9 item 6: one rule for the Idempotency-Key of an order that is no longer waiting for its
// payment. Closed (CANCELLED, EXPIRED, REFUNDED): the same 409 every time, its type naming the status.
// Paid (PAYMENT_CONFIRMED): the order, without a client secret. (README: deviations from CONTRACT.md.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { expireOrderAsJob } from '../support/orders.ts';
import { basket, postCheckout, startTestService, type TestService } from '../support/service.ts';
import { orderRow, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

const checkoutWith = (key: string) => postCheckout(service, basket, { 'idempotency-key': key });
const statusBecomes = (orderId: string, status: string) =>
  waitUntil(`order ${orderId} is ${status}`, async () => (await orderRow(service.db.admin, orderId)).status === status);

/** POST /checkout under a new key, then the order is brought to `status` the way it happens in production. */
async function orderThatIs(status: 'PAYMENT_CONFIRMED' | 'CANCELLED' | 'REFUNDED' | 'EXPIRED'): Promise<{ key: string; orderId: string }> {
  const key = randomUUID();
  const { body } = await checkoutWith(key);
  if (status === 'PAYMENT_CONFIRMED' || status === 'REFUNDED') {
    await service.stripe.paymentIntents.confirm(body.paymentIntentId, { payment_method: 'pm_card_visa' });
    await statusBecomes(body.orderId, 'PAYMENT_CONFIRMED');
  }
  if (status === 'REFUNDED') await service.stripe.refunds.create({ payment_intent: body.paymentIntentId });
  if (status === 'CANCELLED') await service.stripe.paymentIntents.cancel(body.paymentIntentId, { cancellation_reason: 'requested_by_customer' });
  if (status === 'EXPIRED') await service.db.app.query(expireOrderAsJob(body.orderId));
  await statusBecomes(body.orderId, status);
  return { key, orderId: body.orderId };
}

describe('the key of a closed order', () => {
  it.each([
    ['CANCELLED', '/problems/order-cancelled'],
    ['EXPIRED', '/problems/order-expired'],
    ['REFUNDED', '/problems/order-refunded'],
  ] as const)('%s → 409 %s with the order id, the same every time', async (status, type) => {
    const { key, orderId } = await orderThatIs(status);
    const answers = [await checkoutWith(key), await checkoutWith(key)];
    for (const answer of answers) {
      expect(answer.status).toBe(409);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(answer.body).toMatchObject({ type, status: 409, orderId, orderStatus: status, detail: expect.stringContaining(orderId) });
      expect(answer.body).not.toHaveProperty('clientSecret');
    }
    expect({ ...answers[0]!.body, requestId: undefined }).toEqual({ ...answers[1]!.body, requestId: undefined });
  });

  it('EXPIRED before any PaymentIntent existed (Stripe failed) → the same 409 as with one', async () => {
    const key = randomUUID();
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, times: 'always' });
    expect((await checkoutWith(key)).status).toBe(502);
    service.simulator.faults.clear();
    const orderId = await service.db.admin.oneFirst(sql.type(z.object({ id: z.string() }))`select id from checkout.orders where idempotency_key = ${key}`);
    await service.db.app.query(expireOrderAsJob(orderId));
    const requests = service.simulator.requestLog.length;
    expect(await checkoutWith(key)).toMatchObject({ status: 409, body: { type: '/problems/order-expired', orderId } });
    // Nothing was asked of Stripe: the answer comes from the order alone.
    expect(service.simulator.requestLog.length).toBe(requests);
  });
});

describe('the key of a paid order', () => {
  it('PAYMENT_CONFIRMED → 201 Idempotent-Replayed with the order, without a client secret', async () => {
    const { key, orderId } = await orderThatIs('PAYMENT_CONFIRMED');
    const requests = service.simulator.requestLog.length;
    const answer = await checkoutWith(key);
    expect(answer.status).toBe(201);
    expect(answer.headers.get('idempotent-replayed')).toBe('true');
    expect(answer.body).toMatchObject({ orderId, status: 'PAYMENT_CONFIRMED', paymentIntentId: expect.stringMatching(/^pi_/) });
    expect(answer.body).not.toHaveProperty('clientSecret');
    expect(service.simulator.requestLog.length).toBe(requests);
  });
});
