// Issue 9 item 5: a request whose lease ran out while it waited on Stripe cannot hand out a client
// secret for an order that was closed or taken over meanwhile. (The lease is derived so that this
// takes a Stripe call slower than its own worst case; here the lease is 0 s to get there.)
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import type Stripe from 'stripe';
import { z } from 'zod';
import { startCheckout } from '../../src/checkout/start-checkout.ts';
import { expireOrderAsJob, sqlstateOf } from '../support/orders.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { orderRow } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

const log = pino({ level: 'silent' });
const request = (idempotencyKey: string) =>
  ({ idempotencyKey, customerId: 'c-123', currency: 'nzd', items: [{ sku: 'MILK-2L', quantity: 2 }], leaseSeconds: 0 });

/** The SDK, except that `meanwhile(orderId)` runs after Stripe created the PaymentIntent, before the answer arrives. */
function slowCreate(meanwhile: (orderId: string) => Promise<void>): Stripe {
  const real = service.stripe.paymentIntents;
  const paymentIntents = Object.create(real) as Stripe.PaymentIntentResource;
  paymentIntents.create = (async (...args: Parameters<typeof real.create>) => {
    const created = await real.create(...args);
    await meanwhile(created.metadata.order_id!);
    return created;
  }) as typeof real.create;
  return Object.assign(Object.create(service.stripe) as Stripe, { paymentIntents });
}

describe('startCheckout after its lease ran out', () => {
  it('the order expired meanwhile: outcome closed, no client secret, and its PaymentIntent is cancelled', async () => {
    const stripe = slowCreate(async (orderId) => {
      await service.db.app.query(expireOrderAsJob(orderId));
    });
    const result = await startCheckout({ pool: service.pool, stripe, log }, request(randomUUID()));
    expect(result).toMatchObject({ outcome: 'closed', order: { status: 'EXPIRED', paymentIntentId: null } });
    expect(result).not.toHaveProperty('clientSecret');
    const [paymentIntent] = service.simulator.listPaymentIntents().filter((pi) => pi.metadata.order_id === result.order.orderId);
    expect(paymentIntent).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });
    expect((await orderRow(service.db.admin, result.order.orderId)).payment_intent_id).toBeNull();
  });

  it('a newer request took the checkout over: CK014, nothing attached; the newer one attaches the same PaymentIntent', async () => {
    const key = randomUUID();
    let newer = { token: '', key: '' };
    const stripe = slowCreate(async () => {
      newer = await service.db.app.one(sql.type(z.object({ token: z.string(), key: z.string() }))`
        select r->>'checkoutToken' as token, r->'attempt'->>'idempotencyKey' as key
          from checkout.create_order(${key}, 'c-123', 'nzd', '[{"sku":"MILK-2L","quantity":2}]', interval '1 minute') r`);
    });
    expect(await sqlstateOf(startCheckout({ pool: service.pool, stripe, log }, request(key)))).toBe('CK014');
    const orderId = await service.db.admin.oneFirst(sql.type(z.object({ id: z.string() }))`select id from checkout.orders where idempotency_key = ${key}`);
    expect((await orderRow(service.db.admin, orderId)).payment_intent_id).toBeNull();

    // The newer request is the next attempt, which replays the same idempotency key (the first never
    // said how it ended): the same PaymentIntent.
    expect(newer.key).toBe(`checkout-order-${orderId}-1`);
    const [paymentIntent] = service.simulator.listPaymentIntents().filter((pi) => pi.metadata.order_id === orderId);
    const attached = await service.db.app.oneFirst(sql.type(z.object({ outcome: z.string() }))`
      select checkout.attach_payment_intent(${orderId}, ${paymentIntent!.id}, ${newer.token})->>'outcome' as outcome`);
    expect(attached).toBe('attached');
  });
});
