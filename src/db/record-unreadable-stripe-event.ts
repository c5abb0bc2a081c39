// Typed call of checkout.record_unreadable_stripe_event (migrations/0030).
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { retryOnConflict } from './retry.ts';

const recorded = z.object({
  result: z.object({
    outcome: z.enum(['anomaly', 'duplicate']),
    orderId: z.uuid().nullable(),
    anomaly: z.literal('unreadable_event').optional(),
  }),
});
export type RecordedUnreadableEvent = z.infer<typeof recorded>['result'];

/**
 * Records a verified but unreadable Stripe event. Every text argument must already be storable
 * (no NUL, no lone surrogate): the edge passes only values that passed their schemas and a
 * printable reason; the body goes as bytea, so any bytes are fine.
 */
export async function recordUnreadableStripeEvent(
  pool: DatabasePool,
  event: { id: string | null; type: string | null; paymentIntentId: string | null; orderId: string | null; reason: string; body: Buffer },
): Promise<RecordedUnreadableEvent> {
  return retryOnConflict(() => pool.oneFirst(sql.type(recorded)`
    select checkout.record_unreadable_stripe_event(
      ${event.id}, ${event.type}, ${event.paymentIntentId}, ${event.orderId}::uuid, ${event.reason}, ${sql.binary(event.body)}) as result`));
}
