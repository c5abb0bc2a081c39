import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import type { Logger } from '../log.ts';

/** What a job needs; only the PaymentIntent calls it makes, so a test can wrap them. */
export type JobDeps = {
  pool: DatabasePool;
  stripe: { paymentIntents: Pick<Stripe.PaymentIntentResource, 'retrieve' | 'cancel'> };
  logger: Logger;
  /** Aborted at shutdown: the run stops between orders instead of working through the whole list. */
  signal?: AbortSignal;
};
