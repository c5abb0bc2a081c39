// Every request that is not a verified test-mode Stripe event is refused with 400 before anything is
// written. Each body is a valid payment_intent.succeeded for a real pending order, so a refusal that
// let it through would confirm the order and show up here. (A verified body that is not a readable
// event is a 200 anomaly: stripe-webhooks-unreadable.test.ts.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { basket, postCheckout, startTestService, type JsonResponse, type TestService } from '../support/service.ts';
import {
  countStripeEvents, orderRow, paymentIntentObject, postEvent, postRaw, signature, stripeEvent, type StripeEventShape,
} from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

async function pendingOrderEvent(overrides: Partial<StripeEventShape> = {}) {
  const created = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  expect(created.status).toBe(201);
  // The simulator's own payment_intent.created delivery would otherwise race the ledger count.
  await service.simulator.webhooks.idle();
  const object = paymentIntentObject({ id: created.body.paymentIntentId, orderId: created.body.orderId, amount: created.body.amountTotal });
  return { orderId: created.body.orderId as string, event: stripeEvent('payment_intent.succeeded', object, overrides) };
}

/** Sends the request, then checks the 400 problem and that neither the ledger nor the order changed. */
async function expectRefused(orderId: string, send: () => Promise<JsonResponse>, type: string) {
  const eventsBefore = await countStripeEvents(service.db.admin);
  const response = await send();
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body).toMatchObject({ status: 400, type, title: expect.any(String), detail: expect.any(String) });
  expect(await countStripeEvents(service.db.admin)).toBe(eventsBefore);
  expect(await orderRow(service.db.admin, orderId)).toMatchObject({ status: 'PENDING_PAYMENT', amount_received: null });
}

describe('POST /webhooks/stripe refuses what it cannot verify', () => {
  it('control: the same kind of event, correctly signed, confirms the order', async () => {
    const { orderId, event } = await pendingOrderEvent();
    const response = await postEvent(service, event);
    expect(response).toMatchObject({ status: 200, body: { received: true, outcome: 'applied', orderId } });
    expect((await orderRow(service.db.admin, orderId)).status).toBe('PAYMENT_CONFIRMED');
  });

  it('missing Stripe-Signature header', async () => {
    const { orderId, event } = await pendingOrderEvent();
    await expectRefused(orderId, () => postRaw(service, JSON.stringify(event), {}), '/problems/missing-signature');
  });

  it('signed with another secret', async () => {
    const { orderId, event } = await pendingOrderEvent();
    await expectRefused(orderId, () => postEvent(service, event, { secret: 'whsec_someoneElsesSecret0000' }), '/problems/invalid-signature');
  });

  it('stale timestamp (more than 300 s old), otherwise correctly signed', async () => {
    const { orderId, event } = await pendingOrderEvent();
    const stale = Math.floor(Date.now() / 1000) - 301 - 30;
    await expectRefused(orderId, () => postEvent(service, event, { timestamp: stale }), '/problems/invalid-signature');
  });

  it('body changed after signing', async () => {
    const { orderId, event } = await pendingOrderEvent();
    const signed = JSON.stringify(event);
    const tampered = signed.replace(event.id, `${event.id}x`);
    expect(tampered).not.toBe(signed);
    await expectRefused(orderId, () => postRaw(service, tampered, { 'stripe-signature': signature(signed, service.webhookSecret) }), '/problems/invalid-signature');
  });

  it('re-serialized JSON of a signed body (the signature is over the raw bytes)', async () => {
    const { orderId, event } = await pendingOrderEvent();
    const signed = JSON.stringify(event, null, 2);
    const compact = JSON.stringify(JSON.parse(signed));
    await expectRefused(orderId, () => postRaw(service, compact, { 'stripe-signature': signature(signed, service.webhookSecret) }), '/problems/invalid-signature');
  });

  it('a livemode event at this test-mode service', async () => {
    const { orderId, event } = await pendingOrderEvent({ livemode: true });
    await expectRefused(orderId, () => postEvent(service, event), '/problems/livemode-mismatch');
  });
});
