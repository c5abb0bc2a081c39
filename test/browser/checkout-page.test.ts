// The checkout page (/demo) in a real browser (issue 13): Chromium runs the page's own code against
// the real service and the Stripe simulator on their own origins (so CORS and the CSP are real too).
// Every wait is on a condition of the page, never a sleep.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { sql } from 'slonik';
import { z } from 'zod';
import { chromiumMissing, launchChromium } from '../support/browser.ts';
import { startTestService, type TestService } from '../support/service.ts';

const missing = chromiumMissing();
// One line, not a stack trace; the skipped tests below carry the same reason.
if (missing) process.stderr.write(`[test] ${missing}\n`);
const describeInChromium = missing ? describe.skip : describe;

const HOSTILE_NAME = '<img src=x onerror="document.title=\'xss\'">Tea';
const WAIT = { timeout: 45_000 };

let service: TestService;
let browser: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  if (missing) return;
  service = await startTestService();
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

/** The page, with every console error and uncaught exception (a CSP refusal is one) collected. */
async function openCheckoutPage(customerId: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // An HTTP error status is an answer the page handles (a 402 decline, a 409 while the first
    // request of a double-click runs); it is checked through what the page shows.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) {
      problems.push(message.text());
    }
  });
  page.on('pageerror', (error) => problems.push(error.message));
  // A request the browser did not make at all: blocked by the CSP or CORS, or a network failure.
  page.on('requestfailed', (request) => problems.push(`${request.failure()?.errorText} ${request.method()} ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() === 404) problems.push(`404 ${response.url()}`);
  });
  await page.goto(`${service.url}/demo`);
  await page.locator('#catalog tbody tr[data-sku="MILK-2L"]').waitFor(WAIT);
  await page.fill('#customer-id', customerId);
  return { page, problems };
}

async function placeOrder(page: Page, skus: string[]): Promise<string> {
  for (const sku of skus) await page.click(`#catalog tr[data-sku="${sku}"] button`);
  await page.click('#place-order');
  await page.locator('#order-status[data-status="PENDING_PAYMENT"]').waitFor(WAIT);
  return (await page.textContent('#order-id'))!;
}

async function pay(page: Page, testCard: string): Promise<void> {
  await page.selectOption('#test-card', testCard);
  await page.click('#pay');
}

const confirmed = (page: Page) => page.locator('#order-status[data-status="PAYMENT_CONFIRMED"]').waitFor(WAIT);

const eventsOf = (paymentIntentId: string) =>
  service.simulator.webhooks.events.filter((e) => e.data.object.id === paymentIntentId).map((e) => e.type);

async function ordersOf(customerId: string) {
  return service.db.admin.any(sql.type(z.object({ id: z.string(), status: z.string(), payment_intent_id: z.string().nullable() }))`
    select id, status::text, payment_intent_id from checkout.orders where customer_id = ${customerId}`);
}

describeInChromium('the checkout page in Chromium', () => {
  it('pays with pm_card_visa: the order is PAYMENT_CONFIRMED, with its history', async () => {
    const { page, problems } = await openCheckoutPage('browser-visa');
    const orderId = await placeOrder(page, ['MILK-2L', 'MILK-2L', 'EGGS-12']);
    expect(await page.textContent('#order-total')).toBe('$20.97');
    expect(await page.textContent('#client-secret')).toMatch(/^pi_\w+_secret_\w+$/);
    await pay(page, 'pm_card_visa');
    await confirmed(page);
    await page.locator('#order-history li', { hasText: 'PENDING_PAYMENT → PAYMENT_CONFIRMED' }).waitFor(WAIT);
    await page.locator('#payment-message', { hasText: 'Paid' }).waitFor(WAIT);
    expect(await ordersOf('browser-visa')).toEqual([expect.objectContaining({ id: orderId, status: 'PAYMENT_CONFIRMED' })]);
    const screenshot = process.env.CHECKOUT_PAGE_SCREENSHOT;
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
      process.stderr.write(`[test] wrote ${screenshot}\n`);
    }
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('a declined card shows Stripe’s message; another card then pays the same PaymentIntent', async () => {
    const { page, problems } = await openCheckoutPage('browser-decline');
    const orderId = await placeOrder(page, ['BREAD-WHOLEMEAL']);
    const paymentIntentId = (await page.textContent('#payment-intent-id'))!;
    await pay(page, 'pm_card_chargeDeclined');
    await page.locator('#payment-error', { hasText: 'Your card was declined. (generic_decline)' }).waitFor(WAIT);
    expect(await page.getAttribute('#order-status', 'data-status')).toBe('PENDING_PAYMENT');
    await pay(page, 'pm_card_visa');
    await confirmed(page);
    await page.locator('#payment-error').waitFor({ state: 'hidden', ...WAIT });
    const [order] = await ordersOf('browser-decline');
    expect(order).toEqual({ id: orderId, status: 'PAYMENT_CONFIRMED', payment_intent_id: paymentIntentId });
    expect(eventsOf(paymentIntentId)).toEqual(expect.arrayContaining(['payment_intent.payment_failed', 'payment_intent.succeeded']));
    expect(service.simulator.listPaymentIntents().filter((pi) => pi.metadata.order_id === orderId)).toHaveLength(1);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('a double-click on "Place order" makes one order: the second answer is Idempotent-Replayed', async () => {
    const { page, problems } = await openCheckoutPage('browser-double-click');
    await page.click('#catalog tr[data-sku="APPLES-1KG"] button');
    const key = await page.textContent('#idempotency-key');
    await page.dblclick('#place-order');
    // Two requests under one key: one created the order, the other was answered with it (perhaps
    // after a 409 while the first still ran, retried by the page with the same key).
    await page.locator('#checkout-log li.replayed', { hasText: 'Idempotent-Replayed: true' }).waitFor(WAIT);
    expect(await page.locator('#checkout-log li.created').count()).toBe(1);
    expect(await page.textContent('#idempotency-key')).toBe(key);
    const orderId = (await page.textContent('#order-id'))!;
    const orders = await ordersOf('browser-double-click');
    expect(orders.map((o) => o.id)).toEqual([orderId]);
    expect(service.simulator.listPaymentIntents().filter((pi) => pi.metadata.order_id === orderId)).toHaveLength(1);
    const logged = await page.locator('#checkout-log li').allTextContents();
    expect(logged.filter((line) => line.includes(orderId))).toHaveLength(2);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('3-D Secure: requires_action shows the simulator’s authentication page; completing it confirms the order', async () => {
    const { page, problems } = await openCheckoutPage('browser-3ds');
    await placeOrder(page, ['CHEESE-1KG']);
    const paymentIntentId = (await page.textContent('#payment-intent-id'))!;
    await pay(page, 'pm_card_authenticationRequired');
    await page.locator('#authentication').waitFor({ state: 'visible', ...WAIT });
    expect(service.simulator.getPaymentIntent(paymentIntentId)?.status).toBe('requires_action');
    await page.frameLocator('#authentication-frame').getByRole('button', { name: 'Complete authentication' }).click();
    await page.locator('#authentication').waitFor({ state: 'hidden', ...WAIT });
    await confirmed(page);
    expect(eventsOf(paymentIntentId)).toEqual(expect.arrayContaining(['payment_intent.requires_action', 'payment_intent.succeeded']));
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('3-D Secure failed: Stripe’s message, the order still pending, and another card pays it', async () => {
    const { page, problems } = await openCheckoutPage('browser-3ds-fail');
    await placeOrder(page, ['COFFEE-200G']);
    await pay(page, 'pm_card_authenticationRequired');
    await page.frameLocator('#authentication-frame').getByRole('button', { name: 'Fail authentication' }).click();
    await page.locator('#payment-error', { hasText: 'failed authentication' }).waitFor(WAIT);
    expect(await page.getAttribute('#order-status', 'data-status')).toBe('PENDING_PAYMENT');
    await pay(page, 'pm_card_visa');
    await confirmed(page);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('shows what servers send as text: a product name with markup is not markup', async () => {
    await service.db.admin.query(sql.unsafe`
      insert into checkout.products (sku, name, unit_amount, currency) values ('TEA-HOSTILE', ${HOSTILE_NAME}, 650, 'nzd')`);
    const { page, problems } = await openCheckoutPage('browser-xss');
    const row = page.locator('#catalog tr[data-sku="TEA-HOSTILE"]');
    expect(await row.locator('td').first().textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('#catalog img').count()).toBe(0);
    await row.locator('button').click();
    expect(await page.locator('#basket td').first().textContent()).toBe(HOSTILE_NAME);
    expect(await page.title()).not.toBe('xss');
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
