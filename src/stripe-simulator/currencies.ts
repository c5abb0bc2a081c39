import { invalidParam } from './errors.ts';

// A subset of the currencies Stripe settles, enough to reject typos as Stripe would.
const SUPPORTED = new Set([
  'aed', 'aud', 'bgn', 'brl', 'cad', 'chf', 'cny', 'czk', 'dkk', 'eur', 'gbp', 'hkd', 'huf', 'idr',
  'ils', 'inr', 'isk', 'jpy', 'krw', 'mxn', 'myr', 'nok', 'nzd', 'php', 'pln', 'ron', 'sek', 'sgd',
  'thb', 'twd', 'usd', 'vnd', 'zar',
]);

// Stripe's minimum charge amounts in the minor unit; 50 (e.g. $0.50) for most currencies.
const MINIMUM: Record<string, number> = { gbp: 30, jpy: 50, krw: 100, huf: 17500, inr: 50 };
const MAXIMUM = 99_999_999;

/** Stripe accepts any case and answers lower-case. */
export function parseCurrency(value: string, param = 'currency'): string {
  const currency = value.toLowerCase();
  if (!SUPPORTED.has(currency)) {
    throw invalidParam(param, `Invalid currency: ${value}. Stripe currently supports these currencies: ${[...SUPPORTED].join(', ')}`);
  }
  return currency;
}

export function checkAmount(amount: number, currency: string, param = 'amount'): void {
  if (amount < 1) throw invalidParam(param, 'This value must be greater than or equal to 1.', 'parameter_invalid_integer');
  const minimum = MINIMUM[currency] ?? 50;
  if (amount < minimum) {
    throw invalidParam(param, `Amount must be at least ${minimum} in the smallest unit of ${currency}`, 'amount_too_small');
  }
  if (amount > MAXIMUM) throw invalidParam(param, `Amount must be no more than ${MAXIMUM}`, 'amount_too_large');
}
