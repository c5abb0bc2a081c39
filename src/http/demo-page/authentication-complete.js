// The return_url of 3D Secure. Shown inside the checkout page's iframe, it tells the page that the
// cardholder is done (Stripe's "display in an iframe" pattern, docs.stripe.com/payments/3d-secure/
// authentication-flow); the page then retrieves the PaymentIntent to learn the outcome. Only to our
// own origin: the message goes nowhere else.
if (window.top !== window) window.top.postMessage('3DS-authentication-complete', window.location.origin);
