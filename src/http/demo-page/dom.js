// DOM helpers of the checkout page. Everything shown goes through textContent, text nodes or properties,
// never parsed as HTML, so a product name or an error message from a server is text, never markup.

/** An element with properties (`className`, `hidden`, `dataset.*` as `data: {}`…) and children (nodes or text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'data') Object.assign(node.dataset, value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node[name] = value;
  }
  node.append(...children.filter((child) => child !== null && child !== undefined).map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

export const byId = (id) => document.getElementById(id);

export function setText(id, text) {
  byId(id).textContent = text;
}

/** Shows `message` in an alert element, or hides it when there is none. */
export function showMessage(id, message) {
  const node = byId(id);
  node.textContent = message ?? '';
  node.hidden = !message;
}

/** An amount in the currency's minor unit, formatted; the fraction digits come from the currency (JPY has none). */
export function formatMoney(amount, currency) {
  const format = new Intl.NumberFormat('en-NZ', { style: 'currency', currency: currency.toUpperCase() });
  return format.format(amount / 10 ** format.resolvedOptions().maximumFractionDigits);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The message of an RFC 9457 problem document (or of anything else a request failed with). */
export function problemMessage(body, status) {
  if (body && typeof body === 'object' && typeof body.title === 'string') {
    return body.detail && body.detail !== body.title ? `${body.title}: ${body.detail}` : body.title;
  }
  return `HTTP ${status}`;
}
