// Issue 9 item 3 through the job and the simulator: a customer who comes back to the checkout while
// the expiry job works through its list either keeps the order (and pays it) or waits and is told it
// expired; never is a client secret handed out for an order the job is closing.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { expireAbandonedOrders } from '../../src/jobs/expire-abandoned-orders.ts';
import type { JobDeps } from '../../src/jobs/job-deps.ts';
import { idleFor } from '../support/orders.ts';
import { basket, postCheckout, startTestService, type JsonResponse, type TestService } from '../support/service.ts';
import { orderRow, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterEach(async () => {
  service.simulator.faults.clear();
  service.simulator.webhooks.resume();
  await service.simulator.webhooks.idle();
});
afterAll(async () => service?.stop());

const logger = pino({ level: 'silent' });
const expireIdle = (stripe: JobDeps['stripe']) =>
  expireAbandonedOrders({ pool: service.pool, stripe, logger }, { olderThanSeconds: 3600, batchSize: 100, claimSeconds: 60 });

/** As if the order's last checkout activity was `hours` ago (the job takes the longest idle first). */
const idleForHours = (orderId: string, hours: number) => idleFor(service.db.admin, orderId, hours * 60);

/** The SDK, except that `meanwhile` runs right after Stripe cancelled `paymentIntentId` for the job. */
function cancelling(paymentIntentId: string, meanwhile: () => Promise<void>): JobDeps['stripe'] {
  const paymentIntents = service.stripe.paymentIntents;
  return {
    paymentIntents: {
      retrieve: paymentIntents.retrieve.bind(paymentIntents),
      cancel: (async (...args: Parameters<typeof paymentIntents.cancel>) => {
        const canceled = await paymentIntents.cancel(...args);
        if (args[0] === paymentIntentId) await meanwhile();
        return canceled;
      }) as typeof paymentIntents.cancel,
    },
  };
}

const checkoutWith = (key: string) => postCheckout(service, basket, { 'idempotency-key': key });
const cancelRequests = (paymentIntentId: string) =>
  service.simulator.requestLog.filter((r) => r.method === 'POST' && r.path === `/v1/payment_intents/${paymentIntentId}/cancel`);
const orderIdOfKey = (key: string) =>
  service.db.admin.oneFirst(sql.type(z.object({ id: z.string() }))`select id from checkout.orders where idempotency_key = ${key}`);

describe('a customer comes back between the listing and the claim of their order', () => {
  it('resumed before a PaymentIntent existed: the checkout attaches one, the job leaves the order, the customer pays it', async () => {
    const first = await checkoutWith(randomUUID());
    await idleForHours(first.body.orderId, 3);
    // The second order's first request failed at Stripe: no PaymentIntent yet.
    const key = randomUUID();
    service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, times: 'always' });
    expect((await checkoutWith(key)).status).toBe(502);
    service.simulator.faults.clear();
    const orderId = await orderIdOfKey(key);
    await idleForHours(orderId, 2);

    let resumed: JsonResponse | undefined;
    const run = await expireIdle(cancelling(first.body.paymentIntentId, async () => {
      resumed = await checkoutWith(key);
    }));

    expect(run).toMatchObject({ skipped: false, outcomes: { expired: 1, resumed: 1, failed: 0 } });
    expect(resumed).toMatchObject({ status: 201, body: { orderId, status: 'PENDING_PAYMENT', clientSecret: expect.any(String) } });
    const paymentIntentId = resumed!.body.paymentIntentId as string;
    expect(cancelRequests(paymentIntentId)).toEqual([]);
    expect(await orderRow(service.db.admin, orderId)).toMatchObject({ status: 'PENDING_PAYMENT', payment_intent_id: paymentIntentId });

    await service.stripe.paymentIntents.confirm(paymentIntentId, { payment_method: 'pm_card_visa' });
    await waitUntil('the payment is applied', async () => (await orderRow(service.db.admin, orderId)).status === 'PAYMENT_CONFIRMED');
  });

  it('replayed with its PaymentIntent: the customer gets the secret again, the job leaves the order and its PaymentIntent', async () => {
    const first = await checkoutWith(randomUUID());
    await idleForHours(first.body.orderId, 3);
    const key = randomUUID();
    const second = await checkoutWith(key);
    await idleForHours(second.body.orderId, 2);

    let replayed: JsonResponse | undefined;
    const run = await expireIdle(cancelling(first.body.paymentIntentId, async () => {
      replayed = await checkoutWith(key);
    }));

    expect(run).toMatchObject({ outcomes: { expired: 1, resumed: 1, failed: 0 } });
    expect(replayed).toMatchObject({ status: 201, body: { clientSecret: second.body.clientSecret } });
    expect(cancelRequests(second.body.paymentIntentId)).toEqual([]);
    expect(service.simulator.getPaymentIntent(second.body.paymentIntentId)!.status).toBe('requires_payment_method');
    expect((await orderRow(service.db.admin, second.body.orderId)).status).toBe('PENDING_PAYMENT');
  });
});

describe('a customer comes back between the job\'s cancel and its expire', () => {
  it('is told to wait (409, no client secret), then that the order expired', async () => {
    const key = randomUUID();
    const order = await checkoutWith(key);
    await idleForHours(order.body.orderId, 2);
    // The webhook of the job's cancel would expire the order itself; held so that the job's own steps come first.
    service.simulator.webhooks.pause();

    let during: JsonResponse | undefined;
    const run = await expireIdle(cancelling(order.body.paymentIntentId, async () => {
      during = await checkoutWith(key);
    }));

    expect(run).toMatchObject({ outcomes: { expired: 1, failed: 0 } });
    expect(during).toMatchObject({ status: 409, body: { type: '/problems/request-in-progress' } });
    expect(during!.body.clientSecret).toBeUndefined();
    expect((await orderRow(service.db.admin, order.body.orderId)).status).toBe('EXPIRED');
    expect(await checkoutWith(key)).toMatchObject({ status: 409, body: { type: '/problems/order-expired', orderId: order.body.orderId } });
  });
});
