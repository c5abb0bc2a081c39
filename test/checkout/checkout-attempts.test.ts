// Issue 9 item 1: never two payable PaymentIntents for one order, whatever Stripe's 500s do. Through
// POST /checkout (or startCheckout with an SDK client of its own where the SDK's own retries would
// hide the case), the official SDK and the simulator's faults, clock and search lag; each test ends
// by counting the order's payable PaymentIntents at the simulator.
import { randomUUID } from 'node:crypto';
import { stripeClientFor } from '@checkout-service/stripe-simulator/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { startCheckout } from '../../src/checkout/start-checkout.ts';
import { sweepOrphanPaymentIntents } from '../../src/jobs/sweep-orphan-payment-intents.ts';
import { attemptsBegunEarlier, checkoutFailingAfterStripeCreated, createRequests, orderIdOfKey, payableOf, searchRequests, timePasses } from '../support/attempts.ts';
import { basket, postCheckout, startTestService, type JsonResponse, type TestService } from '../support/service.ts';
import { orderRow, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.faults.clear();
  service.simulator.setSearchLag(0);
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const logger = pino({ level: 'silent' });
const checkoutWith = (key: string) => postCheckout(service, basket, { 'idempotency-key': key });
const createFault = { method: 'POST', path: '/v1/payment_intents' } as const;
const DAY = 24 * 60 * 60;

/** Pays the PaymentIntent the customer got and waits for the order to be confirmed through its webhook. */
async function pay(orderId: string, response: JsonResponse): Promise<void> {
  await service.stripe.paymentIntents.confirm(response.body.paymentIntentId, { payment_method: 'pm_card_visa' });
  await waitUntil('the payment is applied', async () => (await orderRow(service.db.admin, orderId)).status === 'PAYMENT_CONFIRMED');
}

/** The sweep job's run for this order once Stripe's search has caught up (both clocks moved on by the allowance). */
async function sweepLater(orderId: string) {
  await timePasses(service, orderId, 601);
  const run = await sweepOrphanPaymentIntents({ pool: service.pool, stripe: service.stripe, logger }, { afterSeconds: 600, batchSize: 100 });
  await service.simulator.webhooks.idle();
  return run;
}

describe('Stripe answers 500', () => {
  it('before creating anything: the retry is a new attempt under a new key and creates the one PaymentIntent', async () => {
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'fail', status: 500 });
    expect((await checkoutWith(key)).status).toBe(502);
    const orderId = await orderIdOfKey(service.db.admin, key);

    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId, clientSecret: expect.any(String) } });
    expect(createRequests(service.simulator, orderId)).toEqual([[`checkout-order-${orderId}-1`, 500], [`checkout-order-${orderId}-2`, 200]]);
    expect(searchRequests(service.simulator, orderId)).toBe(1);
    expect(await sweepLater(orderId)).toMatchObject({ outcomes: { clean: 1, cancelled: 0, failed: 0 } });
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
  });

  it('after creating it: the retry finds it with the search and hands it out, without creating another', async () => {
    const { key, orderId, hidden } = await checkoutFailingAfterStripeCreated(service);

    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId, paymentIntentId: hidden, clientSecret: expect.stringMatching(/^pi_.+_secret_/) } });
    expect(createRequests(service.simulator, orderId)).toEqual([[`checkout-order-${orderId}-1`, 500]]);
    await pay(orderId, resumed);
    expect(payableOf(service.simulator, orderId)).toEqual([]);
  });

  it('after creating it, while search lags: a second is created and handed out, and the sweep cancels the first once search shows it', async () => {
    service.simulator.setSearchLag(60);
    const { key, orderId, hidden } = await checkoutFailingAfterStripeCreated(service);

    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId } });
    expect(resumed.body.paymentIntentId).not.toBe(hidden);
    // Not yet: search has not caught up with the first, and neither has the allowance passed.
    expect(await sweepOrphanPaymentIntents({ pool: service.pool, stripe: service.stripe, logger }, { afterSeconds: 600, batchSize: 100 }))
      .toMatchObject({ examined: 0 });

    expect(await sweepLater(orderId)).toMatchObject({ outcomes: { cancelled: 1, failed: 0 } });
    expect(service.simulator.getPaymentIntent(hidden)).toMatchObject({ status: 'canceled', cancellation_reason: 'duplicate' });
    // The cancel's webhook is not the order's PaymentIntent: ignored, the order still waits for its payment.
    expect(await orderRow(service.db.admin, orderId)).toMatchObject({ status: 'PENDING_PAYMENT', payment_intent_id: resumed.body.paymentIntentId });
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
    await pay(orderId, resumed);
  });

  it('twice while search lagged: the next retry reuses one and cancels the other; the order stays payable and is paid', async () => {
    service.simulator.setSearchLag(60);
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'fail', status: 500, when: 'after', times: 2 });
    expect((await checkoutWith(key)).status).toBe(502);
    const orderId = await orderIdOfKey(service.db.admin, key);
    const [first] = payableOf(service.simulator, orderId);
    expect((await checkoutWith(key)).status).toBe(502);
    const second = payableOf(service.simulator, orderId).find((id) => id !== first);
    expect(createRequests(service.simulator, orderId)).toEqual([[`checkout-order-${orderId}-1`, 500], [`checkout-order-${orderId}-2`, 500]]);
    service.simulator.advanceClock(61);

    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId } });
    expect(createRequests(service.simulator, orderId)).toHaveLength(2);
    const [reused, other] = resumed.body.paymentIntentId === first ? [first, second] : [second, first];
    expect(reused).toBe(resumed.body.paymentIntentId);
    expect(service.simulator.getPaymentIntent(other!)).toMatchObject({ status: 'canceled', cancellation_reason: 'duplicate' });
    await service.simulator.webhooks.idle();
    expect(payableOf(service.simulator, orderId)).toEqual([reused]);
    expect(await orderRow(service.db.admin, orderId)).toMatchObject({ status: 'PENDING_PAYMENT', payment_intent_id: reused });
    await pay(orderId, resumed);
  });
});

describe('no answer from Stripe after it created the PaymentIntent', () => {
  it('every answer lost (503): the retry replays the same key and gets that PaymentIntent, search lag or not', async () => {
    service.simulator.setSearchLag(60);
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'drop', when: 'after', times: 'always' });
    expect((await checkoutWith(key)).status).toBe(503);
    service.simulator.faults.clear();
    const orderId = await orderIdOfKey(service.db.admin, key);
    const [created] = payableOf(service.simulator, orderId);

    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId, paymentIntentId: created } });
    expect(new Set(createRequests(service.simulator, orderId).map(([k]) => k))).toEqual(new Set([`checkout-order-${orderId}-1`]));
    expect(searchRequests(service.simulator, orderId)).toBe(0);
    expect(payableOf(service.simulator, orderId)).toEqual([created]);
  });

  it('Stripe slower than the timeout: the SDK\'s own retry under the key gets the saved answer', async () => {
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'stall', when: 'after', ms: 5_000 });
    const response = await checkoutWith(key);
    expect(response.status).toBe(201);
    expect(payableOf(service.simulator, response.body.orderId)).toEqual([response.body.paymentIntentId]);
  });

  // The SDK of these two gives up after one try, so the timeout ends the attempt.
  const impatient = () => stripeClientFor(service.simulator, { timeout: 300, maxNetworkRetries: 0 });
  const request = (idempotencyKey: string) => ({ idempotencyKey, ...basket, items: [...basket.items], leaseSeconds: 60 });

  it('a timeout after Stripe saved the PaymentIntent: the next attempt replays the key and gets it', async () => {
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'stall', when: 'after', ms: 3_000 });
    const stripe = impatient();
    await expect(startCheckout({ pool: service.pool, stripe, log: logger }, request(key))).rejects.toThrow(/timeout/);
    const orderId = await orderIdOfKey(service.db.admin, key);

    const resumed = await startCheckout({ pool: service.pool, stripe, log: logger }, request(key));
    expect(resumed).toMatchObject({ outcome: 'resumed', order: { orderId }, clientSecret: expect.any(String) });
    expect(createRequests(service.simulator, orderId).map(([k]) => k)).toEqual([`checkout-order-${orderId}-1`, `checkout-order-${orderId}-1`]);
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.order.paymentIntentId]);
  });

  it('Stripe creates it only after the request gave up: the next attempt replays the key and gets it', async () => {
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'stall', when: 'before', ms: 3_000 });
    const stripe = impatient();
    await expect(startCheckout({ pool: service.pool, stripe, log: logger }, request(key))).rejects.toThrow(/timeout/);
    const orderId = await orderIdOfKey(service.db.admin, key);
    await waitUntil('Stripe finished the stalled creation', () => createRequests(service.simulator, orderId)[0]?.[1] === 200);

    const resumed = await startCheckout({ pool: service.pool, stripe, log: logger }, request(key));
    expect(resumed).toMatchObject({ outcome: 'resumed', order: { orderId } });
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.order.paymentIntentId]);
  });
});

describe('a resume a day later, when Stripe has pruned the first key', () => {
  async function answerLostThenADayLater(): Promise<{ key: string; orderId: string; first: string }> {
    const key = randomUUID();
    service.simulator.faults.add({ ...createFault, action: 'drop', when: 'after', times: 'always' });
    expect((await checkoutWith(key)).status).toBe(503);
    service.simulator.faults.clear();
    const orderId = await orderIdOfKey(service.db.admin, key);
    const [first] = payableOf(service.simulator, orderId);
    service.simulator.advanceClock(DAY + 60);
    return { key, orderId, first: first! };
  }

  it('the key is too old to replay: a new one, and the search finds the first PaymentIntent, which is handed out', async () => {
    const { key, orderId, first } = await answerLostThenADayLater();
    await attemptsBegunEarlier(service.db.admin, orderId, 24);
    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId, paymentIntentId: first } });
    expect(createRequests(service.simulator, orderId).every(([k]) => k === `checkout-order-${orderId}-1`)).toBe(true);
    expect(payableOf(service.simulator, orderId)).toEqual([first]);
  });

  it('our clock says the key is young, Stripe\'s says it is gone: the replay creates a second, the sweep cancels the first', async () => {
    const { key, orderId, first } = await answerLostThenADayLater();
    const resumed = await checkoutWith(key);
    expect(resumed).toMatchObject({ status: 201, body: { orderId } });
    expect(resumed.body.paymentIntentId).not.toBe(first);

    expect(await sweepLater(orderId)).toMatchObject({ outcomes: { cancelled: 1, failed: 0 } });
    expect(payableOf(service.simulator, orderId)).toEqual([resumed.body.paymentIntentId]);
    await pay(orderId, resumed);
  });
});
