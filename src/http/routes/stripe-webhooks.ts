import Router from '@koa/router';
import type { DatabasePool } from 'slonik';
import Stripe from 'stripe';
import { applyStripeEvent } from '../../db/checkout-functions.ts';
import { readRawBody } from '../body.ts';
import type { Metrics } from '../metrics.ts';
import { Problem } from '../problem.ts';

/** Stripe's default tolerance: a signature older than this is a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export function stripeWebhookRoutes(deps: {
  pool: DatabasePool; stripe: Stripe; webhookSecret: string; livemode: boolean; metrics: Metrics;
}) {
  const router = new Router();
  router.post('/webhooks/stripe', async (ctx) => {
    const signature = ctx.get('stripe-signature');
    if (!signature) throw new Problem(400, 'missing-signature', 'Stripe-Signature header is missing');
    // The signature covers the exact bytes Stripe sent, so they are verified before any parsing.
    const payload = await readRawBody(ctx);
    let event: Stripe.Event;
    try {
      event = deps.stripe.webhooks.constructEvent(payload, signature, deps.webhookSecret, SIGNATURE_TOLERANCE_SECONDS);
    } catch (error) {
      throw new Problem(400, 'invalid-signature', 'The Stripe signature does not verify', {
        detail: error instanceof Stripe.errors.StripeSignatureVerificationError ? error.message : 'The payload is not a Stripe event.',
      });
    }
    if (event.livemode !== deps.livemode) {
      throw new Problem(400, 'livemode-mismatch', 'The event is from the other Stripe mode', {
        detail: `This service uses ${deps.livemode ? 'live' : 'test'} mode keys.`,
      });
    }
    // Every outcome is a 200: Stripe's retry would not change it. Only a fault (thrown) is a 5xx.
    const result = await applyStripeEvent(deps.pool, { id: event.id, type: event.type, object: event.data.object });
    deps.metrics.stripeEvents.inc({ type: event.type, outcome: result.outcome });
    ctx.state.log.info({ stripeEventId: event.id, type: event.type, ...result }, 'stripe event');
    ctx.body = { received: true, outcome: result.outcome, orderId: result.orderId };
  });
  return router;
}
