import { invalidParam } from './errors.ts';

/**
 * Stripe's minimum charge amount per currency, in the currency's minor unit, from the table
 * "Minimum and maximum charge amounts" at
 * https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts (USD 0.50, GBP 0.30,
 * HUF 175.00, JPY 50, …). The simulator accepts exactly these currencies. JPY is zero-decimal.
 */
export const CHARGE_MINIMUMS: Readonly<Record<string, number>> = {
  usd: 50, aed: 200, aud: 50, bgn: 100, brl: 50, cad: 50, chf: 50, czk: 1500, dkk: 250, eur: 50,
  gbp: 30, hkd: 400, huf: 17500, inr: 50, jpy: 50, mxn: 1000, myr: 200, nok: 300, nzd: 50, pln: 200,
  ron: 200, sek: 300, sgd: 50, thb: 1000,
};

const ZERO_DECIMAL = new Set(['jpy']);

/** An amount in the minor unit as the currency writes it: 50 nzd → "0.50", 50 jpy → "50". */
function major(amount: number, currency: string): string {
  return ZERO_DECIMAL.has(currency) ? String(amount) : (amount / 100).toFixed(2);
}

/** Same page: "The amount value supports up to eight digits (for example, a value of 99999999 for a USD charge of 999,999.99 USD)". */
export const MAXIMUM_AMOUNT = 99_999_999;

/** Stripe accepts any case and answers lower-case. */
export function parseCurrency(value: string, param = 'currency'): string {
  const currency = value.toLowerCase();
  if (!Object.hasOwn(CHARGE_MINIMUMS, currency)) {
    throw invalidParam(param, `Invalid currency: ${value}. Stripe currently supports these currencies: ${Object.keys(CHARGE_MINIMUMS).join(', ')}`);
  }
  return currency;
}

/** Stripe's checks of a PaymentIntent amount: a positive integer within the currency's limits. */
export function checkAmount(amount: number, currency: string, param = 'amount'): void {
  if (amount < 1) throw invalidParam(param, 'This value must be greater than or equal to 1.', 'parameter_invalid_integer');
  const minimum = CHARGE_MINIMUMS[currency];
  if (minimum !== undefined && amount < minimum) {
    throw invalidParam(param, `Amount must be at least ${major(minimum, currency)} ${currency}`, 'amount_too_small');
  }
  if (amount > MAXIMUM_AMOUNT) {
    throw invalidParam(param, `Amount must be no more than ${major(MAXIMUM_AMOUNT, currency)} ${currency}`, 'amount_too_large');
  }
}
