// 3D Secure (pm_card_authenticationRequired), the call Stripe.js makes with a publishable key, and
// what the API answers to browsers (CORS), against the simulator over HTTP.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

let sim: StripeSimulator;
let stripe: Stripe;
const returnUrl = 'http://shop.example/pay/return?step=3ds';

beforeAll(async () => {
  sim = await startStripeSimulator({ webhookSecret: 'whsec_authentication' });
  stripe = stripeClientFor(sim);
});
afterAll(() => sim.close());

const eventTypes = (piId: string) => sim.webhooks.events.filter((e) => e.data.object.id === piId).map((e) => e.type);

async function requiringAction(options: Stripe.PaymentIntentConfirmParams = { return_url: returnUrl }) {
  const created = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' });
  const pi = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_authenticationRequired', ...options });
  return pi;
}

/** The authentication page's form, submitted as a browser does (no redirect followed). */
const submit = (url: string, outcome: string) =>
  fetch(url, { method: 'POST', body: new URLSearchParams({ outcome }), redirect: 'manual' });

describe('a card that requires 3D Secure', () => {
  it('stops at requires_action with a redirect_to_url next action and no charge', async () => {
    const pi = await requiringAction();
    expect(pi).toMatchObject({ status: 'requires_action', latest_charge: null, amount_received: 0, last_payment_error: null });
    expect(pi.payment_method).toMatch(/^pm_/);
    expect(pi.next_action?.type).toBe('redirect_to_url');
    expect(pi.next_action?.redirect_to_url?.return_url).toBe(returnUrl);
    const page = new URL(pi.next_action!.redirect_to_url!.url!);
    expect(page.origin).toBe(sim.url);
    expect(page.searchParams.get('payment_intent')).toBe(pi.id);
    expect(page.searchParams.get('payment_intent_client_secret')).toBe(pi.client_secret);
    expect(eventTypes(pi.id)).toEqual(['payment_intent.created', 'payment_intent.requires_action']);
  });

  it('shows the authentication page only with the right client secret, escaped and without script', async () => {
    const pi = await requiringAction();
    const page = await fetch(pi.next_action!.redirect_to_url!.url!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('Complete authentication');
    expect(html).toContain('Fail authentication');
    expect(html).toContain('11.98 NZD');
    expect(html).not.toContain('<script');
    const forged = new URL(pi.next_action!.redirect_to_url!.url!);
    forged.searchParams.set('payment_intent_client_secret', `${pi.id}_secret_forged`);
    expect((await fetch(forged)).status).toBe(404);
  });

  it('completed: the card is charged and the cardholder returns to return_url with Stripe’s parameters', async () => {
    const pi = await requiringAction();
    const answer = await submit(pi.next_action!.redirect_to_url!.url!, 'complete');
    expect(answer.status).toBe(303);
    const back = new URL(answer.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe('http://shop.example/pay/return');
    expect(Object.fromEntries(back.searchParams)).toEqual({
      step: '3ds', payment_intent: pi.id, payment_intent_client_secret: pi.client_secret, redirect_status: 'succeeded',
    });
    const paid = await stripe.paymentIntents.retrieve(pi.id);
    expect(paid).toMatchObject({ status: 'succeeded', amount_received: 1198, next_action: null });
    await sim.settled();
    expect(eventTypes(pi.id)).toEqual(['payment_intent.created', 'payment_intent.requires_action', 'payment_intent.succeeded']);
    // Used up: the link answers nothing more.
    expect((await submit(pi.next_action!.redirect_to_url!.url!, 'complete')).status).toBe(404);
  });

  it('failed: the PaymentIntent wants another card (payment_intent_authentication_failure), and another card pays it', async () => {
    const pi = await requiringAction();
    const answer = await submit(pi.next_action!.redirect_to_url!.url!, 'fail');
    expect(new URL(answer.headers.get('location')!).searchParams.get('redirect_status')).toBe('failed');
    const failed = await stripe.paymentIntents.retrieve(pi.id);
    expect(failed).toMatchObject({
      status: 'requires_payment_method', payment_method: null, next_action: null, latest_charge: null,
      last_payment_error: { code: 'payment_intent_authentication_failure', type: 'invalid_request_error' },
    });
    expect(eventTypes(pi.id)).toContain('payment_intent.payment_failed');
    const paid = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(paid.status).toBe('succeeded');
  });

  it('without return_url (or with use_stripe_sdk) the next action is use_stripe_sdk, and the page ends without a redirect', async () => {
    for (const options of [{}, { return_url: returnUrl, use_stripe_sdk: true }]) {
      const pi = await requiringAction(options);
      expect(pi.next_action?.type).toBe('use_stripe_sdk');
      const url = (pi.next_action?.use_stripe_sdk as { stripe_js: string }).stripe_js;
      const answer = await submit(url, 'complete');
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain('Authentication complete');
      expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    }
  });

  it('off_session: declined with authentication_required, nobody being there to authenticate', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' });
    const error = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_authenticationRequired', off_session: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ statusCode: 402, code: 'authentication_required' });
    expect((await stripe.paymentIntents.retrieve(created.id)).status).toBe('requires_payment_method');
  });

  it('refuses a return_url that is not a web address', async () => {
    const created = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' });
    const error = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_authenticationRequired', return_url: 'javascript:alert(1)' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ statusCode: 400, param: 'return_url' });
  });

  it('is kept across a restart with a journal, waiting and completed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stripe-sim-3ds-'));
    const stateFile = join(dir, 'journal.jsonl');
    try {
      let first = await startStripeSimulator({ webhookSecret: 'whsec_3ds', stateFile, port: 0 });
      const created = await stripeClientFor(first).paymentIntents.create({ amount: 700, currency: 'nzd' });
      await stripeClientFor(first).paymentIntents.confirm(created.id, { payment_method: 'pm_card_authenticationRequired', return_url: returnUrl });
      await first.close();
      first = await startStripeSimulator({ webhookSecret: 'whsec_3ds', stateFile, port: 0 });
      const waiting = await stripeClientFor(first).paymentIntents.retrieve(created.id);
      expect(waiting.status).toBe('requires_action');
      // The link names the first run's port; the page is the same on this one.
      const link = new URL(waiting.next_action!.redirect_to_url!.url!);
      expect((await submit(`${first.url}${link.pathname}${link.search}`, 'complete')).status).toBe(303);
      await first.close();
      const again = await startStripeSimulator({ webhookSecret: 'whsec_3ds', stateFile, port: 0 });
      expect(again.getPaymentIntent(created.id)?.status).toBe('succeeded');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the browser’s view of the API', () => {
  /** Confirm exactly as Stripe.js sends it: form-encoded, the publishable key and client secret in the body. */
  const stripeJsConfirm = (piId: string, fields: Record<string, string>) =>
    fetch(`${sim.url}/v1/payment_intents/${piId}/confirm`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://shop.example' },
      body: new URLSearchParams({ expected_payment_method_type: 'card', _stripe_version: '2024-06-20', ...fields }),
    });

  it('confirms with key=pk_test_… and the client secret in the form (no Authorization header)', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' });
    const answer = await stripeJsConfirm(pi.id, { payment_method: 'pm_card_visa', key: 'pk_test_frontend', client_secret: pi.client_secret! });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('access-control-expose-headers')).toContain('Request-Id');
    expect(answer.headers.get('stripe-version')).toBe('2024-06-20');
    expect(await answer.json()).toMatchObject({ id: pi.id, status: 'succeeded' });
    // The key is authentication, not a parameter of the request.
    expect(sim.requestLog.at(-1)?.params).not.toHaveProperty('key');
  });

  it('refuses a wrong client secret, a secret key in the form, and a publishable key anywhere else', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd' });
    const wrong = await stripeJsConfirm(pi.id, { payment_method: 'pm_card_visa', key: 'pk_test_frontend', client_secret: `${pi.id}_secret_nope` });
    expect(wrong.status).toBe(400);
    const secretInForm = await stripeJsConfirm(pi.id, { payment_method: 'pm_card_visa', key: 'sk_test_leaked', client_secret: pi.client_secret! });
    expect(secretInForm.status).toBe(401);
    const cancel = await fetch(`${sim.url}/v1/payment_intents/${pi.id}/cancel`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `key=pk_test_frontend&client_secret=${pi.client_secret}`,
    });
    expect(cancel.status).toBe(401);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
  });

  it('answers a preflight as Stripe does, for the API only', async () => {
    const preflight = await fetch(`${sim.url}/v1/payment_intents/pi_x/confirm`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://shop.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,stripe-account' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization,stripe-account');
    // The control API has no authentication: no other origin's script may read or drive it.
    const control = await fetch(`${sim.url}/_simulator`, { headers: { Origin: 'http://shop.example' } });
    expect(control.headers.get('access-control-allow-origin')).toBeNull();
  });
});
