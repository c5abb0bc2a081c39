// The page where a cardholder completes or fails 3D Secure, as Stripe's test mode shows one on
// hooks.stripe.com for its authentication test cards (docs.stripe.com/testing#regulatory-cards):
// two buttons, no challenge. It is reached through a PaymentIntent's next_action URL, which carries
// the client secret (like Stripe's), and answers only for a PaymentIntent in requires_action.
// Plain HTML without script, so it works in a frame and under any policy of the page around it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import qs from 'qs';
import { finishAuthentication } from './confirm.ts';
import { StripeApiError } from './errors.ts';
import { readBody } from './http-util.ts';
import type { PaymentIntent } from './objects.ts';
import type { SimulatorState } from './state.ts';

export { AUTHENTICATION_PATH } from './confirm.ts';

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function sendPage(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem;color:#1a1f36}button{font:inherit;padding:.5rem 1rem;margin:.25rem}
.complete{background:#0a7d38;color:#fff;border:0}.fail{background:#fff;color:#b3261e;border:1px solid #b3261e}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(html)),
    'Cache-Control': 'no-store',
    // The URL carries the client secret: no page it leads to learns it from a Referer.
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(html);
}

/** The PaymentIntent named by the page's query, when its client secret matches. */
function paymentIntentOf(state: SimulatorState, url: URL): PaymentIntent | undefined {
  const pi = state.store.paymentIntents.get(url.searchParams.get('payment_intent') ?? '');
  return pi && pi.client_secret === url.searchParams.get('payment_intent_client_secret') ? pi : undefined;
}

/** Where the cardholder goes back to: return_url with Stripe's query parameters, for a redirect_to_url next action. */
function returnLocation(pi: PaymentIntent, returnUrl: unknown): string | undefined {
  if (typeof returnUrl !== 'string') return undefined;
  const location = new URL(returnUrl);
  location.searchParams.set('payment_intent', pi.id);
  location.searchParams.set('payment_intent_client_secret', pi.client_secret);
  location.searchParams.set('redirect_status', pi.status === 'succeeded' ? 'succeeded' : 'failed');
  return location.toString();
}

/** GET shows the choice; POST outcome=complete|fail applies it and returns to the merchant's page. */
export async function handleAuthenticationPage(state: SimulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const pi = paymentIntentOf(state, url);
  if (!pi || pi.status !== 'requires_action' || !pi.next_action) {
    return sendPage(res, 404, 'Nothing to authenticate', '<p>This authentication link is not valid, or the payment no longer waits for it.</p>');
  }
  if (req.method === 'GET') {
    const amount = `${(pi.amount / 100).toFixed(2)} ${pi.currency.toUpperCase()}`;
    return sendPage(res, 200, '3D Secure test page', `
<p>Stripe simulator: the card issuer asks the cardholder to authenticate a payment of <strong>${escapeHtml(amount)}</strong>
(PaymentIntent <code>${escapeHtml(pi.id)}</code>).</p>
<form method="post" action="${escapeHtml(url.pathname + url.search)}">
<button class="complete" name="outcome" value="complete">Complete authentication</button>
<button class="fail" name="outcome" value="fail">Fail authentication</button>
</form>`);
  }
  if (req.method !== 'POST') return sendPage(res, 405, 'Method not allowed', '');
  const outcome = qs.parse(await readBody(req, 1024)).outcome;
  if (outcome !== 'complete' && outcome !== 'fail') return sendPage(res, 400, 'Choose an outcome', '<p>outcome must be complete or fail.</p>');
  const nextAction = pi.next_action;
  let finished: PaymentIntent;
  try {
    finished = state.run((ctx) => finishAuthentication(ctx, pi.id, outcome === 'complete'));
  } catch (error) {
    if (!(error instanceof StripeApiError)) throw error;
    return sendPage(res, 409, 'Nothing to authenticate', `<p>${escapeHtml(error.message)}</p>`);
  }
  const location = nextAction.type === 'redirect_to_url'
    ? returnLocation(finished, (nextAction.redirect_to_url as { return_url?: unknown } | undefined)?.return_url)
    : undefined;
  if (location) {
    res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'Content-Length': '0' });
    res.end();
    return;
  }
  return sendPage(res, 200, outcome === 'complete' ? 'Authentication complete' : 'Authentication failed', '<p>You can close this window.</p>');
}
