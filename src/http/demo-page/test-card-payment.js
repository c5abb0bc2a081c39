// Payment with Stripe's test PaymentMethods, for the simulator (or any Stripe-compatible API in test
// mode). The confirm is the request Stripe.js itself sends: form-encoded, the publishable key as
// `key` and the PaymentIntent's client_secret, no Authorization header (so no CORS preflight).
// 3D Secure is handled as Stripe documents for handling next actions yourself: next_action's URL in
// an iframe, our return_url page posts '3DS-authentication-complete', then the PaymentIntent is
// retrieved (docs.stripe.com/payments/3d-secure/authentication-flow).
import { byId, el } from './dom.js';

const TEST_CARDS = [
  ['pm_card_visa', 'Visa 4242: succeeds'],
  ['pm_card_mastercard', 'Mastercard 4444: succeeds'],
  ['pm_card_chargeDeclined', 'Visa 0002: declined (generic_decline)'],
  ['pm_card_chargeDeclinedInsufficientFunds', 'Visa 9995: declined (insufficient_funds)'],
  ['pm_card_chargeDeclinedExpiredCard', 'Visa 0069: declined (expired_card)'],
  ['pm_card_authenticationRequired', 'Visa 3184: 3D Secure required'],
];

export function startTestCardPayment(config, checkout, hooks) {
  const api = new URL(config.stripeApiUrl);
  const paymentIntentUrl = new URL(`/v1/payment_intents/${encodeURIComponent(checkout.paymentIntentId)}`, api);
  const select = byId('test-card');
  const pay = byId('pay');
  const frame = byId('authentication-frame');
  byId('test-card-payment').hidden = false;
  select.replaceChildren(...TEST_CARDS.map(([id, label]) => el('option', { value: id }, `${label} (${id})`)));
  let settled = false;

  /** Stripe's answer (the PaymentIntent, or its error) to what the browser sent. */
  async function stripeRequest(url, init) {
    const response = await fetch(url, init);
    const body = await response.json().catch(() => ({ error: { message: `HTTP ${response.status}` } }));
    return { ok: response.ok, body };
  }

  function showOutcome(paymentIntent) {
    if (paymentIntent.status === 'succeeded') {
      hooks.message('Stripe: succeeded. The order is confirmed when Stripe\'s webhook reaches the service.');
    } else if (paymentIntent.status === 'requires_payment_method') {
      hooks.error(`${paymentIntent.last_payment_error?.message ?? 'The payment failed.'} Choose another card: it pays the same PaymentIntent.`);
    } else {
      hooks.message(`Stripe: ${paymentIntent.status}.`);
    }
  }

  function authenticate(nextAction) {
    const url = nextAction?.type === 'redirect_to_url' ? URL.parse(nextAction.redirect_to_url.url) : null;
    if (!url || !/^https?:$/.test(url.protocol)) {
      hooks.error(`Stripe asks for an action this page does not handle (${nextAction?.type ?? 'none'}).`);
      return;
    }
    hooks.message('Stripe: requires_action. Waiting for the cardholder to authenticate…');
    frame.src = url.href;
    byId('authentication').hidden = false;
  }

  async function confirm() {
    hooks.error(null);
    hooks.message(`Confirming with ${select.value}…`);
    pay.disabled = true;
    try {
      const { ok, body } = await stripeRequest(`${paymentIntentUrl}/confirm`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          payment_method: select.value,
          expected_payment_method_type: 'card',
          return_url: new URL('/demo/authentication-complete', window.location.origin).href,
          key: config.publishableKey,
          client_secret: checkout.clientSecret,
        }),
      });
      hooks.attempted();
      if (!ok) {
        // A decline (402 card_error) leaves the PaymentIntent waiting for another PaymentMethod.
        const declined = body.error?.decline_code ? ` (${body.error.decline_code})` : '';
        hooks.message('');
        hooks.error(`${body.error?.message ?? 'The payment failed.'}${declined} Choose another card: it pays the same PaymentIntent.`);
        return;
      }
      if (body.status === 'requires_action') authenticate(body.next_action);
      else showOutcome(body);
    } catch (error) {
      hooks.error(`Stripe cannot be reached: ${error.message}`);
    } finally {
      pay.disabled = settled;
    }
  }

  /** The return_url page in the iframe says the cardholder is done: ask Stripe how it ended. */
  async function authenticationFinished(event) {
    if (event.origin !== window.location.origin || event.source !== frame.contentWindow || event.data !== '3DS-authentication-complete') return;
    byId('authentication').hidden = true;
    frame.removeAttribute('src');
    const query = new URLSearchParams({ key: config.publishableKey, client_secret: checkout.clientSecret });
    const { ok, body } = await stripeRequest(`${paymentIntentUrl}?${query}`, { headers: { Accept: 'application/json' } });
    hooks.attempted();
    if (ok) showOutcome(body);
    else hooks.error(body.error?.message ?? 'The PaymentIntent could not be retrieved.');
  }

  // Assigned, not added: a later order's payment replaces this one's handlers.
  pay.onclick = () => void confirm();
  window.onmessage = (event) => void authenticationFinished(event);
  pay.disabled = false;
  return {
    /** The order settled: nothing is left to pay. */
    settled() {
      settled = true;
      pay.disabled = true;
    },
  };
}
