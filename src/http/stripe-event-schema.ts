// What a verified Stripe event must look like before any of it reaches SQL (issue 10.1, issue 8.5).
// The envelope first, then, per event type, the fields checkout.apply_stripe_event reads. Extra
// fields are allowed everywhere: Stripe adds fields without a new API version
// (https://docs.stripe.com/upgrades#what-changes-does-stripe-consider-to-be-backwards-compatible).
// To handle a new type: add its object schema to `objectSchemas` (and its name to the metrics'
// closed set comes with it).
import { z } from 'zod';
import { printableExcerpt } from './text.ts';

/** Deeper than this is refused before anything serialises the event (JSON.stringify recurses). */
export const MAX_EVENT_DEPTH = 32;

/**
 * Stripe's ids never exceed 255 characters (same page). The same page reserves the right to change
 * their prefixes; checkout.orders already requires `pi_`, and should Stripe change a prefix, its
 * events show up as `unreadable_event` anomalies while the reconciliation job still confirms
 * the payments it finds.
 */
const stripeId = (prefix: string) =>
  z.string().max(255).regex(new RegExp(`^${prefix}_[A-Za-z0-9_]+$`), `must be a Stripe id (${prefix}_…)`);

export const eventIdSchema = stripeId('evt');
export const eventTypeSchema = z
  .string()
  .max(128)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$/, 'must be a Stripe event type (a.b or a.b.c)');

const amount = z.number().int().nonnegative(); // zod's int() is a safe integer: the SQL's ::bigint casts hold
const currency = z.string().regex(/^[a-z]{3}$/, 'must be a lower-case ISO 4217 code');
/** Statuses and reasons: Stripe's enum values, bounded. */
const shortText = z.string().max(100);
/** Stripe's own limits: 50 keys, keys up to 40 characters, values up to 500 (https://docs.stripe.com/metadata). */
const metadata = z.record(z.string().max(40), z.string().max(500)).refine((m) => Object.keys(m).length <= 50, 'at most 50 keys');

const charge = z.looseObject({
  id: stripeId('ch'),
  amount,
  amount_refunded: amount,
  currency,
  refunded: z.boolean(),
  payment_intent: stripeId('pi').nullable(),
  metadata,
});

const paymentIntent = z.looseObject({
  id: stripeId('pi'),
  amount,
  amount_received: amount,
  currency,
  status: shortText,
  metadata,
  // Since API version 2022-11-15; a webhook endpoint on an older version sends none.
  latest_charge: z.union([z.null(), stripeId('ch'), charge]).optional(),
  cancellation_reason: shortText.nullable(),
  last_payment_error: z
    .looseObject({ code: shortText.optional(), decline_code: shortText.optional(), message: z.string().max(1000).optional() })
    .nullable(),
});

const refund = z.looseObject({
  id: stripeId('re'),
  amount,
  currency,
  status: shortText,
  charge: stripeId('ch').nullable(),
  payment_intent: stripeId('pi').nullable(),
  failure_reason: shortText.nullish(), // present only on some API versions
  metadata,
});

/** The event types whose object the SQL reads; any other type is checked as an envelope only. */
export const objectSchemas = {
  'payment_intent.succeeded': paymentIntent,
  'payment_intent.payment_failed': paymentIntent,
  'payment_intent.canceled': paymentIntent,
  'charge.refunded': charge,
  'charge.refund.updated': refund,
} as const satisfies Record<string, z.ZodType>;

export type KnownEventType = keyof typeof objectSchemas;
export const knownEventTypes = Object.keys(objectSchemas) as KnownEventType[];

function isKnownEventType(type: string): type is KnownEventType {
  return Object.hasOwn(objectSchemas, type);
}

export const stripeEventSchema = z
  .looseObject({
    id: eventIdSchema,
    object: z.literal('event').optional(),
    type: eventTypeSchema,
    livemode: z.boolean(),
    data: z.looseObject({ object: z.looseObject({}) }),
  })
  .meta({
    description: `A Stripe Event (https://docs.stripe.com/api/events/object). Nesting deeper than ${MAX_EVENT_DEPTH}, NUL or a lone surrogate in any string or key make it unreadable: recorded as an anomaly and answered 200.`,
  });

export type StripeEvent = { id: string; type: string; livemode: boolean; object: Record<string, unknown> };

/** What could be read of an event that failed: only values that passed their own schema. */
export type UnreadableStripeEvent = {
  reason: string;
  id: string | null;
  type: string | null;
  livemode: boolean | null;
  paymentIntentId: string | null;
  orderId: string | null;
};

export type StripeEventCheck = { ok: true; event: StripeEvent } | ({ ok: false } & UnreadableStripeEvent);

/**
 * Walks the whole value with an explicit stack (no recursion: a 64 KiB body can nest ~32,000
 * levels) and names the first string or key that PostgreSQL cannot store, or the first value
 * nested too deep.
 */
export function unstorableContent(value: unknown, maxDepth = MAX_EVENT_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '(event)' }];
  const bad = (s: string) => s.includes('\u0000') || !s.isWellFormed();
  while (stack.length > 0) {
    const { value: node, depth, path } = stack.pop()!;
    if (typeof node === 'string') {
      if (bad(node)) return `${path}: a string contains NUL or a lone surrogate`;
    } else if (node !== null && typeof node === 'object') {
      if (depth >= maxDepth) return `${path}: nested deeper than ${maxDepth} levels`;
      if (Array.isArray(node)) {
        node.forEach((child, i) => stack.push({ value: child, depth: depth + 1, path: `${path}[${i}]` }));
      } else {
        for (const [key, child] of Object.entries(node)) {
          if (bad(key)) return `${path}: a key contains NUL or a lone surrogate`;
          stack.push({ value: child, depth: depth + 1, path: `${path}.${key}` });
        }
      }
    }
  }
  return undefined;
}

function issuesText(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${[prefix, ...issue.path.map(String)].filter(Boolean).join('.')}: ${issue.message}`)
    .join('; ');
}

const pick = <T>(schema: z.ZodType<T>, value: unknown): T | null => {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : null;
};
const record = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** The parts of an unreadable event that are safe to record and help a person find the payment. */
function readableParts(parsed: unknown): Omit<UnreadableStripeEvent, 'reason'> {
  const envelope = record(parsed);
  const object = record(record(envelope.data).object);
  const objectId = typeof object.id === 'string' ? object.id : '';
  return {
    id: pick(eventIdSchema, envelope.id),
    type: pick(eventTypeSchema, envelope.type),
    livemode: pick(z.boolean(), envelope.livemode),
    paymentIntentId: pick(stripeId('pi'), objectId.startsWith('pi_') ? objectId : object.payment_intent),
    orderId: pick(z.uuid(), record(object.metadata).order_id),
  };
}

/** Checks a verified, JSON-parsed event (`undefined`: the body was not JSON) against the schemas above. */
export function checkStripeEvent(parsed: unknown): StripeEventCheck {
  const fail = (reason: string): StripeEventCheck => ({ ok: false, reason: printableExcerpt(reason, 500), ...readableParts(parsed) });
  if (parsed === undefined) return fail('the body is not JSON');
  const unstorable = unstorableContent(parsed);
  if (unstorable) return fail(unstorable);
  const envelope = stripeEventSchema.safeParse(parsed);
  if (!envelope.success) return fail(issuesText(envelope.error, ''));
  const { id, type, livemode, data } = envelope.data;
  if (isKnownEventType(type)) {
    const object = objectSchemas[type].safeParse(data.object);
    if (!object.success) return fail(issuesText(object.error, 'data.object'));
  }
  return { ok: true, event: { id, type, livemode, object: data.object } };
}

/** A closed set for metric labels: the known types, `other`, and `unreadable`. */
export function eventTypeLabel(type: string | null, readable: boolean): string {
  if (!readable) return 'unreadable';
  return type !== null && isKnownEventType(type) ? type : 'other';
}
