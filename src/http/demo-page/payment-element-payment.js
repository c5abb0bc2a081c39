// Payment with real Stripe: Stripe.js (loaded from https://js.stripe.com/v3/, as Stripe requires:
// docs.stripe.com/js/including) mounts the Payment Element for the PaymentIntent's client secret;
// confirmPayment handles declines (the shopper may try again on the same PaymentIntent) and 3D
// Secure in its own modal (docs.stripe.com/payments/accept-a-payment?platform=web&ui=elements).
import { byId } from './dom.js';

export function startPaymentElementPayment(config, checkout, hooks) {
  if (typeof window.Stripe !== 'function') {
    hooks.error('Stripe.js did not load from js.stripe.com: the Payment Element cannot be shown.');
    return { settled() {} };
  }
  const stripe = window.Stripe(config.publishableKey);
  const elements = stripe.elements({ clientSecret: checkout.clientSecret });
  byId('payment-element').replaceChildren();
  elements.create('payment').mount('#payment-element');
  byId('payment-element-payment').hidden = false;
  const pay = byId('pay-element');
  let settled = false;

  // Assigned, not added: a later order's payment replaces this one's handler.
  pay.disabled = false;
  pay.onclick = async () => {
    hooks.error(null);
    pay.disabled = true;
    // Card payments stay on the page; a payment method that must redirect comes back to /demo.
    const { error, paymentIntent } = await stripe.confirmPayment({
      elements, confirmParams: { return_url: new URL('/demo', window.location.origin).href }, redirect: 'if_required',
    });
    hooks.attempted();
    if (error) hooks.error(`${error.message} You can try again: it pays the same PaymentIntent.`);
    else hooks.message(`Stripe: ${paymentIntent.status}. The order is confirmed when Stripe's webhook reaches the service.`);
    pay.disabled = settled;
  };
  return {
    /** The order settled: nothing is left to pay. */
    settled() {
      settled = true;
      pay.disabled = true;
    },
  };
}
