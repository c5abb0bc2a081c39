import type { IncomingMessage } from 'node:http';
import { StripeApiError } from './errors.ts';

export interface ApiKey {
  key: string;
  publishable: boolean;
}

function unauthorized(message: string): StripeApiError {
  return new StripeApiError(401, { type: 'invalid_request_error', message }, {
    stored: false,
    headers: { 'WWW-Authenticate': 'Basic realm="Stripe"' },
  });
}

function redact(key: string): string {
  return key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : key;
}

/**
 * Test-mode keys only, as `Authorization: Bearer sk_test_…` (the SDK) or HTTP Basic with the key as
 * user name (curl -u sk_test_…:). Any sk_test_/rk_test_ key is accepted; pk_test_ keys are
 * publishable, limited to what Stripe.js may call. Stripe.js sends its publishable key as the
 * `key` parameter instead (a form-encoded POST without an Authorization header is a CORS "simple
 * request": no preflight), so `paramKey` is accepted too, for publishable keys only.
 */
export function authenticate(req: IncomingMessage, paramKey?: unknown): ApiKey {
  const header = req.headers.authorization;
  if (!header && typeof paramKey === 'string' && paramKey !== '') {
    if (/^pk_test_[A-Za-z0-9_]+$/.test(paramKey)) return { key: paramKey, publishable: true };
    throw unauthorized(`Invalid API Key provided: ${redact(paramKey)}`);
  }
  if (!header) {
    throw unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.");
  }
  let key = '';
  const [scheme, value = ''] = header.trim().split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') key = value;
  else if (scheme?.toLowerCase() === 'basic') key = Buffer.from(value, 'base64').toString('utf8').split(':')[0] ?? '';
  if (/^(sk|rk)_test_[A-Za-z0-9_]+$/.test(key)) return { key, publishable: false };
  if (/^pk_test_[A-Za-z0-9_]+$/.test(key)) return { key, publishable: true };
  throw unauthorized(`Invalid API Key provided: ${redact(key)}`);
}

export function publishableNotAllowed(): StripeApiError {
  return new StripeApiError(401, {
    type: 'invalid_request_error',
    message: 'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
  }, { stored: false });
}
