// The database is down while Stripe delivers: the webhook must answer 5xx so Stripe retries, and a
// retry after the database is back must confirm the order exactly once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bringDatabaseBack, takeDatabaseDown } from '../support/database-outage.ts';
import { basket, postCheckout, startTestService, type JsonResponse, type TestService } from '../support/service.ts';
import { historyOf, orderRow, outboxOf, paymentIntentObject, postEvent, stripeEvent, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  if (service) await bringDatabaseBack(service.db.name).catch(() => {});
  await service?.stop();
});

describe('POST /webhooks/stripe while the database is unavailable', () => {
  it('answers 5xx (so Stripe retries), and the simulator\'s retry confirms the order once the database is back', async () => {
    const created = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    expect(created.status).toBe(201);
    const { orderId, paymentIntentId, amountTotal } = created.body;
    await service.simulator.webhooks.idle();

    await takeDatabaseDown(service.db.name);
    try {
      await service.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa' });
      const succeeded = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === paymentIntentId);
      expect(succeeded).toBeDefined();
      const attempts = () => service.simulator.webhooks.deliveries.filter((d) => d.eventId === succeeded!.id);
      await waitUntil('the simulator has been refused twice', () => attempts().length >= 2);
      expect(attempts().every((d) => d.status !== null && d.status >= 500)).toBe(true);
    } finally {
      await bringDatabaseBack(service.db.name);
    }

    await waitUntil('the order is confirmed by a retry', async () => (await orderRow(service.db.admin, orderId)).status === 'PAYMENT_CONFIRMED');
    await service.simulator.webhooks.idle();
    const succeededId = service.simulator.webhooks.events.find((e) => e.type === 'payment_intent.succeeded' && e.data.object.id === paymentIntentId)!.id;
    const statuses = service.simulator.webhooks.deliveries.filter((d) => d.eventId === succeededId).map((d) => d.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((s) => s !== null && s >= 500)).toBe(true);
    const confirmations = (await historyOf(service.db.admin, orderId)).filter((h) => h.to_status === 'PAYMENT_CONFIRMED');
    expect(confirmations).toEqual([expect.objectContaining({ source: 'stripe_webhook', stripe_event_id: succeededId })]);
    expect(await outboxOf(service.db.admin, orderId)).toHaveLength(1);
  });

  // Slonik wraps connection failures (PostgreSQL's error is the `cause`): they must still read as an outage.
  it('answers 503 database-unavailable with Retry-After, not an opaque 500', async () => {
    const created = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    const { orderId, paymentIntentId, amountTotal } = created.body;
    await service.simulator.webhooks.idle();
    const event = stripeEvent('payment_intent.succeeded', paymentIntentObject({ id: paymentIntentId, orderId, amount: amountTotal }));
    await takeDatabaseDown(service.db.name);
    let answer: JsonResponse;
    try {
      answer = await postEvent(service, event);
    } finally {
      await bringDatabaseBack(service.db.name);
    }
    expect(answer.status).toBe(503);
    expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(answer.body).toMatchObject({ status: 503, type: '/problems/database-unavailable' });
  });
});
