// What the checkout-attempt tests look at: the PaymentIntents an order has at the simulator, the
// requests the service made there, and the database clock of the sweep.
import { randomUUID } from 'node:crypto';
import type { StripeSimulator } from '@checkout-service/stripe-simulator';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { basket, postCheckout, type TestService } from './service.ts';

/** The statuses in which a PaymentIntent can still take money (src/checkout/payment-intents-of-order.ts). */
const payableStatuses = new Set(['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing', 'requires_capture']);

/** Ids of the order's PaymentIntents that could still be paid, as the simulator holds them. */
export function payableOf(simulator: StripeSimulator, orderId: string): string[] {
  return simulator.listPaymentIntents()
    .filter((pi) => pi.metadata.order_id === orderId && payableStatuses.has(pi.status))
    .map((pi) => pi.id);
}

/** [idempotency key, status] of every PaymentIntent creation the service asked for this order. */
export function createRequests(simulator: StripeSimulator, orderId: string): Array<[string | null, number | null]> {
  return simulator.requestLog
    .filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && r.idempotencyKey?.startsWith(`checkout-order-${orderId}`))
    .map((r) => [r.idempotencyKey, r.status]);
}

/** How many searches of this order's PaymentIntents reached the simulator. */
export function searchRequests(simulator: StripeSimulator, orderId: string): number {
  return simulator.requestLog
    .filter((r) => r.path === '/v1/payment_intents/search' && JSON.stringify(r.params).includes(orderId)).length;
}

export async function orderIdOfKey(admin: DatabasePool, idempotencyKey: string): Promise<string> {
  return admin.oneFirst(sql.type(z.object({ id: z.string() }))`select id from checkout.orders where idempotency_key = ${idempotencyKey}`);
}

/** As if the order's checkout had stopped calling Stripe `seconds` ago (the sweep waits for search to catch up). */
export async function quietAtStripeFor(admin: DatabasePool, orderId: string, seconds: number): Promise<void> {
  await admin.query(sql.unsafe`
    update checkout.payment_intent_sweeps set stripe_quiet_at = now() - make_interval(secs => ${seconds}) where order_id = ${orderId}`);
}

/** As if the order's checkout attempts had begun `hours` earlier (their Stripe keys as old). */
export async function attemptsBegunEarlier(admin: DatabasePool, orderId: string, hours: number): Promise<void> {
  await admin.query(sql.unsafe`
    update checkout.checkout_attempts set started_at = started_at - make_interval(hours => ${hours}) where order_id = ${orderId}`);
}

/** Time passes for both clocks: the simulator's (search catches up) and the database's view of the order's quiet at Stripe. */
export async function timePasses(service: TestService, orderId: string, seconds: number): Promise<void> {
  service.simulator.advanceClock(seconds);
  await quietAtStripeFor(service.db.admin, orderId, seconds);
}

/**
 * A POST /checkout (502) whose one attempt got a 500 after Stripe had created the PaymentIntent, saved
 * under the key: its Idempotency-Key, the order, and that PaymentIntent nobody was given.
 */
export async function checkoutFailingAfterStripeCreated(service: TestService): Promise<{ key: string; orderId: string; hidden: string }> {
  const key = randomUUID();
  service.simulator.faults.add({ method: 'POST', path: '/v1/payment_intents', action: 'fail', status: 500, when: 'after' });
  const response = await postCheckout(service, basket, { 'idempotency-key': key });
  if (response.status !== 502) throw new Error(`expected 502, got ${response.status}`);
  const orderId = await orderIdOfKey(service.db.admin, key);
  const [hidden, ...more] = payableOf(service.simulator, orderId);
  if (!hidden || more.length > 0) throw new Error(`expected one PaymentIntent made for order ${orderId}, found ${[hidden, ...more].join(', ')}`);
  return { key, orderId, hidden };
}
