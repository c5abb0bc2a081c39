// The checkout page's HTTP side (issue 13): when it is served, with which settings and headers.
// What it does in a browser is test/browser/checkout-page.test.ts.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createApp } from '../../src/http/app.ts';
import { checkoutPageCsp, demoPageOptions, renderCheckoutPage, type DemoPageOptions } from '../../src/http/routes/demo-page.ts';
import { request, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

const stripeKeys = { STRIPE_SECRET_KEY: 'sk_test_real', STRIPE_WEBHOOK_SECRET: 'whsec_real' };

/** The app as createApp builds it with these page settings, on a port of its own. */
async function withApp<T>(demoPage: DemoPageOptions | undefined, use: (url: string) => Promise<T>): Promise<T> {
  const { app } = createApp({
    pool: service.pool, stripe: service.stripe, logger: pino({ level: 'silent' }), webhookSecret: service.webhookSecret,
    stripeLivemode: false, checkoutLeaseSeconds: 30, demoPage,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    return await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('with the Stripe simulator (the embedded default)', () => {
  it('serves the page with the simulator’s URL and a publishable test key, under a strict CSP', async () => {
    const page = await request(service, 'GET', '/demo');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain(`data-stripe-api-url="${service.simulator.url}"`);
    expect(page.body).toContain('data-publishable-key="pk_test_simulator"');
    expect(page.body).toContain('data-payment-mode="test-cards"');
    expect(page.body).not.toContain('js.stripe.com');
    expect(page.headers.get('content-security-policy')).toBe([
      "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
      `connect-src 'self' ${service.simulator.url}`, `frame-src ${service.simulator.url} 'self'`,
      "form-action 'none'", "base-uri 'none'", "frame-ancestors 'none'",
    ].join('; '));
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('serves its scripts and style as such, and nothing it does not have', async () => {
    for (const [path, type] of [
      ['/demo/checkout-page.js', 'text/javascript; charset=utf-8'], ['/demo/dom.js', 'text/javascript; charset=utf-8'],
      ['/demo/test-card-payment.js', 'text/javascript; charset=utf-8'], ['/demo/payment-element-payment.js', 'text/javascript; charset=utf-8'],
      ['/demo/authentication-complete.js', 'text/javascript; charset=utf-8'], ['/demo/checkout-page.css', 'text/css; charset=utf-8'],
      ['/demo/authentication-complete', 'text/html; charset=utf-8'],
    ]) {
      const asset = await request(service, 'GET', path!);
      expect([path, asset.status, asset.headers.get('content-type')]).toEqual([path, 200, type]);
      // Nothing that could hold a secret key, and no markup written from strings.
      expect(asset.body).not.toMatch(/sk_(test|live)_|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    }
    const returnPage = await request(service, 'GET', '/demo/authentication-complete');
    expect(returnPage.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    for (const path of ['/demo/nope.js', '/demo/../package.json', '/demo/checkout-page.html']) {
      const missing = await request(service, 'GET', path);
      expect([path, missing.status]).toEqual([path, 404]);
    }
  });

  it('is not part of the API document', async () => {
    const document = (await request(service, 'GET', '/openapi.json')).body;
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/demo'))).toEqual([]);
  });
});

describe('when it is served', () => {
  it('by default only with the simulator; DEMO_PAGE turns it off, or on with Stripe keys', () => {
    expect(loadConfig({}).demoPage).toBe(true);
    expect(loadConfig({ DEMO_PAGE: 'false' }).demoPage).toBe(false);
    expect(loadConfig(stripeKeys).demoPage).toBe(false);
    expect(loadConfig({ ...stripeKeys, DEMO_PAGE: 'true', STRIPE_PUBLISHABLE_KEY: 'pk_test_real' }).demoPage).toBe(true);
  });

  it.each([
    [{ ...stripeKeys, DEMO_PAGE: 'true' }, /STRIPE_PUBLISHABLE_KEY: required when DEMO_PAGE=true/],
    [{ ...stripeKeys, DEMO_PAGE: 'true', STRIPE_PUBLISHABLE_KEY: 'pk_live_real' }, /STRIPE_PUBLISHABLE_KEY: must be of the same mode/],
    [{ STRIPE_PUBLISHABLE_KEY: 'sk_test_secret' }, /STRIPE_PUBLISHABLE_KEY: must be a Stripe publishable key/],
    [{ STRIPE_PUBLISHABLE_KEY: 'pk_live_real' }, /STRIPE_PUBLISHABLE_KEY: the Stripe simulator .* takes test keys only/],
    [{ DEMO_PAGE: 'yes' }, /DEMO_PAGE:/],
  ])('refuses %j at start', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('off: /demo is not served at all', async () => {
    await withApp(undefined, async (url) => {
      expect((await fetch(`${url}/demo`)).status).toBe(404);
      expect((await fetch(`${url}/demo/checkout-page.js`)).status).toBe(404);
    });
  });

  it('with real Stripe: the Payment Element, Stripe.js from js.stripe.com, the CSP allowing Stripe only then', async () => {
    const options = demoPageOptions({ STRIPE_API_URL: undefined, STRIPE_PUBLISHABLE_KEY: 'pk_live_shop' }, undefined);
    expect(options).toEqual({ paymentMode: 'payment-element', stripeApiUrl: 'https://api.stripe.com', publishableKey: 'pk_live_shop' });
    await withApp(options, async (url) => {
      const response = await fetch(`${url}/demo`);
      const html = await response.text();
      expect(html).toContain('<script src="https://js.stripe.com/v3/"></script>');
      expect(html).toContain('data-payment-mode="payment-element"');
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self' https://js.stripe.com https://*.js.stripe.com");
      expect(csp).toContain('frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com');
      expect(csp).toContain("connect-src 'self' https://api.stripe.com");
    });
  });

  it('with STRIPE_API_URL (a Stripe-compatible API): test cards against it', () => {
    expect(demoPageOptions({ STRIPE_API_URL: 'http://stripe-mock.internal:12111/', STRIPE_PUBLISHABLE_KEY: 'pk_test_x' }, undefined))
      .toEqual({ paymentMode: 'test-cards', stripeApiUrl: 'http://stripe-mock.internal:12111', publishableKey: 'pk_test_x' });
    // A simulator listening on every address is called on loopback by a browser of this machine.
    expect(demoPageOptions({ STRIPE_API_URL: undefined, STRIPE_PUBLISHABLE_KEY: undefined }, 'http://0.0.0.0:12111').stripeApiUrl)
      .toBe('http://127.0.0.1:12111');
  });

  it('escapes its settings into the page, and takes no secret key', () => {
    const html = renderCheckoutPage({ paymentMode: 'test-cards', stripeApiUrl: 'http://127.0.0.1:1/"><script>alert(1)</script>$&', publishableKey: 'pk_test_x' });
    expect(html).toContain('data-stripe-api-url="http://127.0.0.1:1/&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;$&#38;"');
    expect(html).not.toContain('<script>alert(1)');
    expect(checkoutPageCsp({ paymentMode: 'test-cards', stripeApiUrl: 'http://127.0.0.1:1/x?y', publishableKey: 'pk_test_x' }))
      .toContain("connect-src 'self' http://127.0.0.1:1;");
    expect(() => createApp({
      pool: service.pool, stripe: service.stripe, logger: pino({ level: 'silent' }), webhookSecret: 'whsec_x', stripeLivemode: false,
      checkoutLeaseSeconds: 30, demoPage: { paymentMode: 'payment-element', stripeApiUrl: 'https://api.stripe.com', publishableKey: 'sk_live_oops' },
    })).toThrow(/publishable key/);
  });
});
