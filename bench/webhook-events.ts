// The payment_intent.succeeded objects the bench sends: the webhook legs' events (bench/http-load-process.ts)
// and the SQL peer's argument (bench/sql-limit.ts), so that both hand apply_stripe_event the same object.
import Stripe from 'stripe';
import type { CheckoutOrder } from './http-load.ts';

export function simulatorClient(simulatorUrl: string): Stripe {
  const url = new URL(simulatorUrl);
  return new Stripe('sk_test_bench', { host: url.hostname, port: Number(url.port), protocol: 'http' });
}

/** The simulator's own PaymentIntent (Stripe's full shape, ~1.5 KB): the template of every event object. */
export async function paymentIntentTemplate(stripe: Stripe, paymentIntentId: string): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return stripe.paymentIntents.retrieve(paymentIntentId);
}

/** The event's object for the `index`-th order: the template as that order's PaymentIntent, succeeded. */
export function succeededObject(template: Stripe.PaymentIntent, order: CheckoutOrder, index: number): Record<string, unknown> {
  return {
    ...template, lastResponse: undefined, id: order.paymentIntentId, amount: order.amountTotal, amount_received: order.amountTotal,
    status: 'succeeded', latest_charge: `ch_bench${index}`, client_secret: `${order.paymentIntentId}_secret_bench`, metadata: { order_id: order.orderId },
  };
}
