// The checkout page (issue 13): the flow a frontend runs against checkout-service, in plain DOM code.
// Catalog (GET /products) → basket → POST /checkout with an Idempotency-Key kept across retries →
// payment with the clientSecret → GET /orders/:id, polled with back-off until the order settles.
import { byId, el, formatMoney, problemMessage, setText, showMessage, sleep } from './dom.js';
import { startPaymentElementPayment } from './payment-element-payment.js';
import { startTestCardPayment } from './test-card-payment.js';

const config = {
  paymentMode: document.body.dataset.paymentMode,
  stripeApiUrl: document.body.dataset.stripeApiUrl,
  publishableKey: document.body.dataset.publishableKey,
};
const FINAL_STATUSES = ['PAYMENT_CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'];
/** POST /checkout attempts under one key: back-off from 250 ms doubling to 4 s, about 30 s in all (a checkout holds its key up to CHECKOUT_LEASE_SECONDS). */
const CHECKOUT_ATTEMPTS = 10;

const state = {
  products: [],
  /** sku → quantity */
  basket: new Map(),
  /** One key per basket: every retry and every click for this basket reuses it. */
  idempotencyKey: crypto.randomUUID(),
  order: null,
  payment: null,
  /** Bumped to stop the poller of an earlier order or attempt. */
  pollGeneration: 0,
};

// --- 1. Catalog ---------------------------------------------------------------------------------

async function loadCatalog() {
  const products = [];
  for (let next = '/products?limit=100'; next !== null;) {
    const response = await fetch(next, { headers: { Accept: 'application/json' } });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(problemMessage(body, response.status));
    products.push(...body.products);
    next = body.next;
  }
  return products;
}

function renderCatalog() {
  const rows = state.products.map((product) => el('tr', { className: product.active ? '' : 'inactive', data: { sku: product.sku } },
    el('td', {}, product.name),
    el('td', {}, el('code', {}, product.sku)),
    el('td', { className: 'num' }, formatMoney(product.unitAmount, product.currency)),
    el('td', {}, product.active
      ? el('button', { type: 'button', className: 'secondary', onclick: () => changeQuantity(product.sku, 1) }, 'Add')
      : el('small', {}, 'unavailable'))));
  byId('catalog').tBodies[0].replaceChildren(...rows);
}

// --- 2. Basket and POST /checkout ----------------------------------------------------------------

function changeQuantity(sku, delta) {
  const quantity = Math.min(999, (state.basket.get(sku) ?? 0) + delta);
  if (quantity > 0) state.basket.set(sku, quantity);
  else state.basket.delete(sku);
  newRequest();
}

/** Another basket or customer is another request: under the old key the service would refuse it (422). */
function newRequest() {
  state.idempotencyKey = crypto.randomUUID();
  renderBasket();
}

function renderBasket() {
  const lines = [...state.basket].map(([sku, quantity]) => ({ product: state.products.find((p) => p.sku === sku), quantity }));
  byId('basket').tBodies[0].replaceChildren(...lines.map(({ product, quantity }) => el('tr', { data: { sku: product.sku } },
    el('td', {}, product.name),
    el('td', { className: 'num' }, quantity),
    el('td', { className: 'num' }, formatMoney(product.unitAmount * quantity, product.currency)),
    el('td', {},
      el('button', { type: 'button', className: 'secondary', title: 'One less', onclick: () => changeQuantity(product.sku, -1) }, '−'), ' ',
      el('button', { type: 'button', className: 'secondary', title: 'One more', onclick: () => changeQuantity(product.sku, 1) }, '+')))));
  const currency = lines[0]?.product.currency ?? 'nzd';
  setText('basket-total', formatMoney(lines.reduce((sum, l) => sum + l.product.unitAmount * l.quantity, 0), currency));
  setText('idempotency-key', state.idempotencyKey);
  byId('place-order').disabled = lines.length === 0;
}

/** Answers worth retrying with the same key: still running elsewhere (409), provider or database down (502/503). */
const retryable = (response, body) =>
  response.status === 503 || response.status === 502 || (response.status === 409 && body?.type === '/problems/request-in-progress');

function logCheckout(text, className) {
  byId('checkout-log').append(el('li', { className }, `${new Date().toLocaleTimeString()} ${text}`));
}

/**
 * POST /checkout, retried with back-off under the same Idempotency-Key, as the contract asks of a
 * client: a retry resumes the same order and PaymentIntent, never a second one.
 */
async function placeOrder() {
  const key = state.idempotencyKey;
  const body = JSON.stringify({
    customerId: byId('customer-id').value,
    currency: state.products.find((p) => state.basket.has(p.sku))?.currency ?? 'nzd',
    items: [...state.basket].map(([sku, quantity]) => ({ sku, quantity })),
  });
  showMessage('checkout-error', null);
  for (let attempt = 1, delay = 250; ; attempt += 1, delay = Math.min(delay * 2, 4000)) {
    let response;
    let answer = null;
    try {
      response = await fetch('/checkout', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key }, body });
      answer = await response.json().catch(() => null);
    } catch (error) {
      logCheckout(`POST /checkout (attempt ${attempt}) → network error: ${error.message}`, 'refused');
      if (attempt < CHECKOUT_ATTEMPTS) { await sleep(delay); continue; }
      return showMessage('checkout-error', 'The service cannot be reached; the order is kept under this Idempotency-Key, try again.');
    }
    const replayed = response.headers.get('Idempotent-Replayed') === 'true';
    if (response.ok) {
      logCheckout(`POST /checkout → ${response.status}${replayed ? ' Idempotent-Replayed: true' : ''}, order ${answer.orderId}`, replayed ? 'replayed' : 'created');
      return showOrder(answer);
    }
    logCheckout(`POST /checkout → ${response.status} ${answer?.type ?? ''}`, 'refused');
    if (retryable(response, answer) && attempt < CHECKOUT_ATTEMPTS) {
      const retryAfter = Number(response.headers.get('Retry-After'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : delay);
      continue;
    }
    return showMessage('checkout-error', problemMessage(answer, response.status));
  }
}

// --- 3. The order, live ------------------------------------------------------------------------------

function showOrder(checkout) {
  const sameOrder = state.order?.orderId === checkout.orderId;
  state.order = checkout;
  byId('order-section').hidden = false;
  setText('order-id', checkout.orderId);
  setText('order-total', formatMoney(checkout.amountTotal, checkout.currency));
  setText('payment-intent-id', checkout.paymentIntentId ?? '');
  setText('client-secret', checkout.clientSecret ?? '(none: the order is paid)');
  renderStatus(checkout.status, []);
  if (!sameOrder && checkout.clientSecret) startPayment(checkout);
  pollOrder();
}

function renderStatus(status, history) {
  const badge = byId('order-status');
  badge.textContent = status;
  badge.dataset.status = status;
  byId('order-history').replaceChildren(...history.map((h) => el('li', {},
    `${h.from ?? '(new)'} → ${h.to}`, ' ', el('small', {}, `${new Date(h.at).toLocaleTimeString()} · ${h.source}${h.reason ? ` · ${h.reason}` : ''}`))));
}

/** GET /orders/:id with exponential back-off (250 ms doubling to 5 s) until a final status; restarted after each payment attempt. */
async function pollOrder() {
  const generation = ++state.pollGeneration;
  const { orderId } = state.order;
  for (let delay = 250; generation === state.pollGeneration; delay = Math.min(delay * 2, 5000)) {
    setText('order-polling', 'watching…');
    try {
      const response = await fetch(`/orders/${encodeURIComponent(orderId)}`, { headers: { Accept: 'application/json' } });
      if (response.ok) {
        const order = await response.json();
        if (generation !== state.pollGeneration) return;
        renderStatus(order.status, order.history);
        if (FINAL_STATUSES.includes(order.status)) {
          setText('order-polling', '');
          state.payment?.settled();
          setText('payment-message', order.status === 'PAYMENT_CONFIRMED' ? 'Paid: the order is PAYMENT_CONFIRMED.' : `The order is ${order.status}.`);
          return;
        }
      }
    } catch {
      // A failed poll is retried after the back-off, like any other.
    }
    await sleep(delay);
  }
}

// --- 4. Payment ----------------------------------------------------------------------------------------

function startPayment(checkout) {
  byId('payment-section').hidden = false;
  byId('authentication').hidden = true;
  setText('payment-message', '');
  showMessage('payment-error', null);
  const hooks = {
    /** A payment attempt was made: what Stripe said may take a webhook to reach the order, so watch it again. */
    attempted: () => pollOrder(),
    message: (text) => setText('payment-message', text),
    error: (text) => showMessage('payment-error', text),
  };
  state.payment = config.paymentMode === 'payment-element'
    ? startPaymentElementPayment(config, checkout, hooks)
    : startTestCardPayment(config, checkout, hooks);
}

// --- start ---------------------------------------------------------------------------------------------

setText('payment-mode-label', config.paymentMode === 'payment-element'
  ? 'Stripe.js Payment Element (real Stripe)'
  : `test cards, confirmed against ${config.stripeApiUrl}`);
byId('place-order').addEventListener('click', () => void placeOrder());
byId('customer-id').addEventListener('change', newRequest);
renderBasket();
try {
  state.products = await loadCatalog();
  renderCatalog();
} catch (error) {
  showMessage('catalog-error', `GET /products failed: ${error.message}`);
}
