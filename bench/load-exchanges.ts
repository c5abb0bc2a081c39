// What the HTTP legs send and what they expect back, for either load generator (bench/http-load-process.ts,
// bench/wrk-load.ts): POST /checkout with one basket, POST /webhooks/stripe with one signed event per order.
import type { CheckoutOrder } from './http-load.ts';
import { paymentIntentTemplate, simulatorClient, succeededObject } from './webhook-events.ts';

export const checkoutBody = JSON.stringify({ customerId: 'bench', items: [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }, { sku: 'BANANAS-1KG', quantity: 3 }] });

/**
 * One signed event per order, made before the clock starts (Stripe's tolerance is 300 s: ample). The
 * object is the simulator's own PaymentIntent (Stripe's full shape, ~1.5 KB), as succeeded.
 */
export async function signedEvents(orders: CheckoutOrder[], secret: string, simulatorUrl: string): Promise<Array<{ body: string; signature: string }>> {
  const stripe = simulatorClient(simulatorUrl);
  const template = await paymentIntentTemplate(stripe, orders[0]!.paymentIntentId);
  const created = Math.floor(Date.now() / 1000);
  return orders.map((order, i) => {
    const body = JSON.stringify({
      id: `evt_bench_${order.orderId.replaceAll('-', '')}`, object: 'event', type: 'payment_intent.succeeded', livemode: false, created,
      api_version: template.lastResponse.apiVersion ?? null, pending_webhooks: 1, request: { id: null, idempotency_key: null },
      data: { object: succeededObject(template, order, i) },
    });
    return { body, signature: stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: created }) };
  });
}

/** Counts the answers of a leg: whether each is the one expected (201 created; 200 applied), and the orders created. */
export class Answers {
  readonly orders: CheckoutOrder[] = [];
  readonly statuses: Record<string, number> = {};
  unexpected = 0;
  private readonly kind: 'checkout' | 'webhook';

  constructor(kind: 'checkout' | 'webhook') {
    this.kind = kind;
  }

  add(status: number, body: string): void {
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (!this.expected(status, body)) this.unexpected++;
  }

  private expected(status: number, body: string): boolean {
    if (this.kind === 'webhook') return status === 200 && (JSON.parse(body) as { outcome: string }).outcome === 'applied';
    if (status !== 201) return false;
    const { orderId, paymentIntentId, amountTotal } = JSON.parse(body) as CheckoutOrder;
    this.orders.push({ orderId, paymentIntentId, amountTotal });
    return true;
  }
}
