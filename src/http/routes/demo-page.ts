// The checkout page for frontend developers (issue 13), served at /demo when DEMO_PAGE allows it
// (by default only with the Stripe simulator). Static files from ../demo-page/, read once; the page
// gets its settings as escaped data attributes, and the only key it ever sees is a publishable one.
import { readFileSync } from 'node:fs';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Config } from '../../config.ts';

export type DemoPageOptions = {
  /**
   * `test-cards`: the page confirms with Stripe's test PaymentMethods against `stripeApiUrl` (the
   * simulator, or STRIPE_API_URL); `payment-element`: Stripe.js from js.stripe.com with real Stripe.
   */
  paymentMode: 'test-cards' | 'payment-element';
  /** Where the browser reaches the Stripe API in test-cards mode. */
  stripeApiUrl: string;
  publishableKey: string;
};

/**
 * How the page pays, from the configuration: test cards against the simulator (its URL as a browser
 * on this machine reaches it) or against STRIPE_API_URL, else the Payment Element with real Stripe.
 */
export function demoPageOptions(config: Pick<Config, 'STRIPE_API_URL' | 'STRIPE_PUBLISHABLE_KEY'>, simulatorUrl: string | undefined): DemoPageOptions {
  if (simulatorUrl !== undefined) {
    const url = new URL(simulatorUrl);
    // A wildcard listen address is not one a browser can call.
    if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
    if (url.hostname === '[::]') url.hostname = '[::1]';
    return { paymentMode: 'test-cards', stripeApiUrl: url.origin, publishableKey: config.STRIPE_PUBLISHABLE_KEY ?? 'pk_test_simulator' };
  }
  // loadConfig requires STRIPE_PUBLISHABLE_KEY whenever the page is on with a secret key.
  const publishableKey = config.STRIPE_PUBLISHABLE_KEY!;
  if (config.STRIPE_API_URL) return { paymentMode: 'test-cards', stripeApiUrl: new URL(config.STRIPE_API_URL).origin, publishableKey };
  return { paymentMode: 'payment-element', stripeApiUrl: 'https://api.stripe.com', publishableKey };
}

const read = (name: string) => readFileSync(new URL(`../demo-page/${name}`, import.meta.url), 'utf8');

export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Stripe.js's own list (docs.stripe.com/security/guide#content-security-policy): its script and
// frames on js.stripe.com, 3D Secure frames on hooks.stripe.com, its API calls to api.stripe.com.
const STRIPE_JS = {
  script: ['https://js.stripe.com', 'https://*.js.stripe.com'],
  frame: ['https://js.stripe.com', 'https://*.js.stripe.com', 'https://hooks.stripe.com'],
  connect: ['https://api.stripe.com'],
};

/**
 * The page's Content-Security-Policy: scripts and styles from this origin only (no inline code at
 * all), requests to this service and to the Stripe API the page pays through, frames only for 3D
 * Secure, nothing may frame the page, no form posts anywhere.
 */
export function checkoutPageCsp(options: DemoPageOptions): string {
  const stripeOrigin = new URL(options.stripeApiUrl).origin;
  const stripe = options.paymentMode === 'payment-element'
    ? STRIPE_JS
    // The authentication page is served by the same API; its return_url is this origin's page.
    : { script: [], frame: [stripeOrigin, "'self'"], connect: [stripeOrigin] };
  return [
    "default-src 'none'",
    ["script-src 'self'", ...stripe.script].join(' '),
    "style-src 'self'",
    "img-src 'self'",
    ["connect-src 'self'", ...stripe.connect].join(' '),
    ['frame-src', ...stripe.frame].join(' '),
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function renderCheckoutPage(options: DemoPageOptions): string {
  return read('checkout-page.html')
    .replace('<!--stripe-js-->', options.paymentMode === 'payment-element' ? '<script src="https://js.stripe.com/v3/"></script>' : '')
    // Replacer functions: a `$&` in a value is text, not a replacement pattern.
    .replace('{{paymentMode}}', () => escapeHtml(options.paymentMode))
    .replace('{{stripeApiUrl}}', () => escapeHtml(options.stripeApiUrl))
    .replace('{{publishableKey}}', () => escapeHtml(options.publishableKey));
}

function send(ctx: Context, type: string, body: string, csp?: string): void {
  ctx.type = type;
  ctx.body = body;
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Cache-Control', 'no-cache');
  // The authentication return URL carries the client secret in its query: no Referer takes it along.
  ctx.set('Referrer-Policy', 'no-referrer');
  if (csp) ctx.set('Content-Security-Policy', csp);
}

export function demoPageRoutes(options: DemoPageOptions) {
  if (!/^pk_(test|live)_[A-Za-z0-9_]+$/.test(options.publishableKey)) throw new Error('the demo page takes a publishable key (pk_…) only');
  const page = renderCheckoutPage(options);
  const pageCsp = checkoutPageCsp(options);
  const scripts = ['checkout-page.js', 'dom.js', 'test-card-payment.js', 'payment-element-payment.js', 'authentication-complete.js'];
  const assets = new Map<string, { type: string; body: string }>([
    ...scripts.map((name) => [name, { type: 'text/javascript; charset=utf-8', body: read(name) }] as const),
    ['checkout-page.css', { type: 'text/css; charset=utf-8', body: read('checkout-page.css') }],
  ]);
  const returnPage = read('authentication-complete.html');

  const router = new Router();
  router.get('/demo', (ctx) => send(ctx, 'text/html; charset=utf-8', page, pageCsp));
  // 3D Secure's return_url: loaded in the page's own frame, so framing by this origin is allowed.
  router.get('/demo/authentication-complete', (ctx) =>
    send(ctx, 'text/html; charset=utf-8', returnPage, "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"));
  router.get('/demo/:asset', (ctx, next) => {
    const asset = assets.get(ctx.params.asset ?? '');
    if (!asset) return next();
    send(ctx, asset.type, asset.body);
  });
  return router;
}
