import Router from '@koa/router';
import type { DatabasePool } from 'slonik';
import Stripe from 'stripe';
import { applyStripeEvent } from '../../db/checkout-functions.ts';
import { recordUnreadableStripeEvent } from '../../db/record-unreadable-stripe-event.ts';
import { readRawBody } from '../body.ts';
import type { Metrics } from '../metrics.ts';
import { Problem } from '../problem.ts';
import { sendJson, webhookResponseSchema } from '../responses.ts';
import { checkStripeEvent, eventTypeLabel } from '../stripe-event-schema.ts';

/** Stripe's default tolerance: a signature older than this is a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * The verified body, JSON-parsed; undefined when it is not JSON. constructEvent verifies the
 * signature over the raw bytes first and parses them after (stripe-node Webhooks.constructEvent):
 * a StripeSignatureVerificationError is the only error of the first step, so any other error is
 * about the content of a body that did verify.
 */
function verifiedEvent(deps: { stripe: Stripe; webhookSecret: string }, payload: Buffer, signature: string): unknown {
  try {
    return deps.stripe.webhooks.constructEvent(payload, signature, deps.webhookSecret, SIGNATURE_TOLERANCE_SECONDS);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new Problem(400, 'invalid-signature', 'The Stripe signature does not verify', { detail: error.message });
    }
    return undefined;
  }
}

export function stripeWebhookRoutes(deps: {
  pool: DatabasePool; stripe: Stripe; webhookSecret: string; livemode: boolean; metrics: Metrics;
}) {
  const router = new Router();
  router.post('/webhooks/stripe', async (ctx) => {
    const signature = ctx.get('stripe-signature');
    if (!signature) throw new Problem(400, 'missing-signature', 'Stripe-Signature header is missing');
    // The signature covers the exact bytes Stripe sent, so they are verified before any parsing.
    const payload = await readRawBody(ctx);
    const checked = checkStripeEvent(verifiedEvent(deps, payload, signature));
    const livemode = checked.ok ? checked.event.livemode : checked.livemode;
    if (livemode !== null && livemode !== deps.livemode) {
      throw new Problem(400, 'livemode-mismatch', 'The event is from the other Stripe mode', {
        detail: `This service uses ${deps.livemode ? 'live' : 'test'} mode keys.`,
      });
    }
    // Every outcome is a 200: Stripe's retry would not change it. Only a fault (thrown) is a 5xx.
    // A verified event that cannot be read is recorded as an anomaly for a person (issue 8.5).
    const result = checked.ok
      ? await applyStripeEvent(deps.pool, { id: checked.event.id, type: checked.event.type, object: checked.event.object })
      : await recordUnreadableStripeEvent(deps.pool, { ...checked, body: payload });
    const type = checked.ok ? checked.event.type : checked.type;
    deps.metrics.stripeEvents.inc({ type: eventTypeLabel(type, checked.ok), outcome: result.outcome });
    ctx.state.log.info({
      stripeEventId: checked.ok ? checked.event.id : checked.id, type, ...result, ...(checked.ok ? {} : { unreadable: checked.reason }),
    }, 'stripe event');
    sendJson(ctx, 200, webhookResponseSchema, { received: true, outcome: result.outcome, orderId: result.orderId });
  });
  return router;
}
