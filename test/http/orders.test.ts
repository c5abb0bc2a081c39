import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { basket, postCheckout, request, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

describe('GET /orders/:orderId', () => {
  it('shows the order with its lines and history, never the client secret', async () => {
    const created = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    const response = await request(service, 'GET', `/orders/${created.body.orderId}`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      orderId: created.body.orderId,
      status: 'PENDING_PAYMENT',
      currency: 'nzd',
      amountTotal: 1198,
      lines: created.body.lines,
      paymentIntentId: created.body.paymentIntentId,
      history: [{ from: null, to: 'PENDING_PAYMENT', at: expect.any(String), source: 'checkout_api' }],
    });
    expect(JSON.stringify(response.body)).not.toContain(created.body.clientSecret);
    expect(JSON.stringify(response.body)).not.toMatch(/secret/i);
  });

  it('shows the confirmation once the payment succeeded', async () => {
    const created = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    await service.stripe.paymentIntents.confirm(created.body.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    const response = await request(service, 'GET', `/orders/${created.body.orderId}`);
    expect(response.body.status).toBe('PAYMENT_CONFIRMED');
    expect(response.body.amountReceived).toBe(1198);
    expect(response.body.history.map((h: { to: string; source: string }) => [h.to, h.source])).toEqual([
      ['PENDING_PAYMENT', 'checkout_api'],
      ['PAYMENT_CONFIRMED', 'stripe_webhook'],
    ]);
  });

  it('unknown id → 404 problem', async () => {
    const response = await request(service, 'GET', `/orders/${randomUUID()}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 404, type: '/problems/order-not-found' });
  });

  it('malformed id → 400 naming the field', async () => {
    const response = await request(service, 'GET', '/orders/not-a-uuid');
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'orderId', in: 'path', message: 'must be a UUID' }]);
  });
});
