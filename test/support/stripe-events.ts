// Stripe-shaped events signed with the official SDK, POSTed to the service's webhook endpoint the way
// Stripe does, plus the database reads the webhook tests assert on.
import { randomBytes } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import Stripe from 'stripe';
import { z } from 'zod';
import { request, type JsonResponse } from './service.ts';

export type StripeEventShape = {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: boolean;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  type: string;
  data: { object: Record<string, unknown> };
};

export function stripeEvent(type: string, object: Record<string, unknown>, overrides: Partial<StripeEventShape> = {}): StripeEventShape {
  return {
    id: `evt_test${randomBytes(12).toString('hex')}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
    ...overrides,
  };
}

/** A PaymentIntent as Stripe sends it in payment_intent.* events; succeeded by default. */
export function paymentIntentObject(input: {
  id: string; orderId: string; amount: number; currency?: string; status?: string; amountReceived?: number;
}): Record<string, unknown> {
  const status = input.status ?? 'succeeded';
  return {
    id: input.id,
    object: 'payment_intent',
    amount: input.amount,
    amount_received: input.amountReceived ?? (status === 'succeeded' ? input.amount : 0),
    currency: input.currency ?? 'nzd',
    status,
    metadata: { order_id: input.orderId },
    livemode: false,
    last_payment_error: null,
    cancellation_reason: status === 'canceled' ? 'requested_by_customer' : null,
  };
}

/** A Charge as Stripe sends it in charge.refunded: `amountRefunded` so far, refunded in full when it is the whole amount. */
export function chargeObject(input: { id: string; orderId: string; amount: number; amountRefunded: number; currency?: string }): Record<string, unknown> {
  return {
    id: `ch_${input.id.replace(/^pi_/, '')}`,
    object: 'charge',
    amount: input.amount,
    amount_refunded: input.amountRefunded,
    currency: input.currency ?? 'nzd',
    payment_intent: input.id,
    refunded: input.amountRefunded >= input.amount,
    metadata: { order_id: input.orderId },
    livemode: false,
  };
}

export function signature(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
}

/** POST /webhooks/stripe with a body signed by `secret` (the service's unless given). */
export async function postEvent(
  service: { url: string; webhookSecret: string },
  event: StripeEventShape | string,
  options: { secret?: string; timestamp?: number; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
  return postRaw(service, payload, {
    'stripe-signature': signature(payload, options.secret ?? service.webhookSecret, options.timestamp),
    ...options.headers,
  });
}

export async function postRaw(service: { url: string }, payload: string, headers: Record<string, string>): Promise<JsonResponse> {
  return request(service, 'POST', '/webhooks/stripe', {
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: payload,
  });
}

const count = z.object({ n: z.number() });

export const countStripeEvents = (db: DatabasePool) =>
  db.oneFirst(sql.type(count)`select count(*)::int as n from checkout.stripe_events`);

export const ledgerRow = (db: DatabasePool, eventId: string) =>
  db.maybeOne(sql.type(z.object({ outcome: z.string(), order_id: z.string().nullable(), type: z.string() }))`
    select outcome, order_id, type from checkout.stripe_events where id = ${eventId}`);

export const anomaliesFor = (db: DatabasePool, eventId: string) =>
  db.any(sql.type(z.object({ kind: z.string(), order_id: z.string().nullable() }))`
    select kind, order_id from checkout.payment_anomalies where stripe_event_id = ${eventId} order by id`);

export const historyOf = (db: DatabasePool, orderId: string) =>
  db.any(sql.type(z.object({ from_status: z.string().nullable(), to_status: z.string(), source: z.string(), stripe_event_id: z.string().nullable() }))`
    select from_status::text, to_status::text, source, stripe_event_id from checkout.order_status_history
     where order_id = ${orderId} order by id`);

export const outboxOf = (db: DatabasePool, orderId: string) =>
  db.any(sql.type(z.object({ id: z.string(), type: z.string(), payload: z.record(z.string(), z.unknown()) }))`
    select id::text, type, payload from checkout.outbox where aggregateid = ${orderId}`);

export const orderRow = (db: DatabasePool, orderId: string) =>
  db.one(sql.type(z.object({
    status: z.string(), payment_intent_id: z.string().nullable(), amount_received: z.number().nullable(), amount_refunded: z.number(),
  }))`select status::text, payment_intent_id, amount_received::int, amount_refunded::int from checkout.orders where id = ${orderId}`);

export { waitUntil } from './wait.ts';
