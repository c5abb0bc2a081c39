import type { ApiContext, ApiResult } from './api-context.ts';
import { listEvents, retrieveEvent } from './event-routes.ts';
import { resourceMissing } from './errors.ts';
import type { Params } from './params.ts';
import {
  cancelPaymentIntent, confirmPaymentIntentRoute, createPaymentIntent, listPaymentIntents,
  retrievePaymentIntent, updatePaymentIntent,
} from './payment-intents.ts';
import { searchPaymentIntents } from './payment-intent-search.ts';
import { createRefund, listRefunds, retrieveCharge, retrieveRefund } from './refunds.ts';

type Handler = (ctx: ApiContext, params: Params, id: string) => ApiResult;

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handler: Handler;
  /** Reachable with a publishable key (pk_test_…) plus the PaymentIntent's client_secret, as from Stripe.js. */
  publishable?: boolean;
}

const ID = '([A-Za-z0-9_]+)';

const ROUTES: Route[] = [
  { method: 'POST', pattern: /^\/v1\/payment_intents$/, handler: (ctx, p) => createPaymentIntent(ctx, p) },
  { method: 'GET', pattern: /^\/v1\/payment_intents$/, handler: (ctx, p) => listPaymentIntents(ctx, p) },
  // Before the retrieve route, whose id pattern would take "search" for an id.
  { method: 'GET', pattern: /^\/v1\/payment_intents\/search$/, handler: (ctx, p) => searchPaymentIntents(ctx, p) },
  { method: 'GET', pattern: new RegExp(`^/v1/payment_intents/${ID}$`), handler: (ctx, p, id) => retrievePaymentIntent(ctx, id, p), publishable: true },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}$`), handler: (ctx, p, id) => updatePaymentIntent(ctx, id, p) },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}/confirm$`), handler: (ctx, p, id) => confirmPaymentIntentRoute(ctx, id, p), publishable: true },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}/cancel$`), handler: (ctx, p, id) => cancelPaymentIntent(ctx, id, p) },
  { method: 'POST', pattern: /^\/v1\/refunds$/, handler: (ctx, p) => createRefund(ctx, p) },
  { method: 'GET', pattern: /^\/v1\/refunds$/, handler: (ctx, p) => listRefunds(ctx, p) },
  { method: 'GET', pattern: new RegExp(`^/v1/refunds/${ID}$`), handler: (ctx, p, id) => retrieveRefund(ctx, id, p) },
  { method: 'GET', pattern: new RegExp(`^/v1/charges/${ID}$`), handler: (ctx, p, id) => retrieveCharge(ctx, id, p) },
  {
    method: 'GET', pattern: new RegExp(`^/v1/payment_methods/${ID}$`),
    handler: (ctx, _p, id) => {
      const pm = ctx.store.paymentMethods.get(id);
      if (!pm) throw resourceMissing('payment_method', id);
      return { status: 200, body: pm };
    },
  },
  { method: 'GET', pattern: /^\/v1\/events$/, handler: (ctx, p) => listEvents(ctx, p) },
  { method: 'GET', pattern: new RegExp(`^/v1/events/${ID}$`), handler: (ctx, p, id) => retrieveEvent(ctx, id, p) },
];

export function matchRoute(method: string, path: string): { route: Route; id: string } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, id: match[1] ?? '' };
  }
  return undefined;
}
