import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random [A-Za-z0-9] string; rejection sampling keeps the distribution uniform. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes above it would bias the first characters.
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

/** Stripe-looking object id: prefix + 24 alphanumerics (e.g. pi_3Pxyz…). */
export function newId(prefix: string): string {
  return `${prefix}_${randomAlphanumeric(24)}`;
}

export function newRequestId(): string {
  return `req_${randomAlphanumeric(14)}`;
}

export function newWebhookSecret(): string {
  return `whsec_${randomAlphanumeric(32)}`;
}
