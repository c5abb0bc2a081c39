import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError } from 'slonik';

/**
 * The SQLSTATEs raised by the migrations (class CK, outside PostgreSQL's own classes), and how the
 * HTTP edge answers them. The one list: migrations/CONVENTIONS.md repeats it for DBAs.
 */
export const sqlstates = {
  CK001: { status: 409, slug: 'illegal-transition', title: 'The order cannot make this status change' },
  CK002: { status: 422, slug: 'idempotency-key-reused', title: 'Idempotency-Key was already used with a different request' },
  CK003: { status: 409, slug: 'request-in-progress', title: 'A request with this Idempotency-Key is still being processed' },
  CK004: { status: 422, slug: 'unknown-sku', title: 'Unknown or inactive SKU' },
  CK005: { status: 404, slug: 'order-not-found', title: 'Order not found' },
  CK006: { status: 409, slug: 'payment-mismatch', title: 'The payment does not match the order' },
  CK007: { status: 422, slug: 'invalid-order', title: 'The order cannot be created as requested' },
  CK008: { status: 409, slug: 'history-append-only', title: 'The order history cannot be changed' },
  CK009: { status: 409, slug: 'payment-intent-mismatch', title: 'The order belongs to another PaymentIntent' },
  CK010: { status: 409, slug: 'order-closed', title: 'The order can no longer be paid' },
  // The basket's total decides these, so the problem names the items field (errors[]).
  CK011: { status: 422, slug: 'amount-too-small', title: 'The order total is below the smallest amount the payment provider charges', field: 'items' },
  CK012: { status: 422, slug: 'amount-too-large', title: 'The order total is above the largest amount the payment provider charges', field: 'items' },
  CK013: { status: 409, slug: 'order-changed', title: 'The order changed since the expiry job claimed it' },
  CK014: { status: 409, slug: 'checkout-taken-over', title: 'A newer request with this Idempotency-Key took over the checkout' },
  CK020: { status: 409, slug: 'order-must-start-pending', title: 'A new order must start unpaid' },
} as const satisfies Record<string, { status: number; slug: string; title: string; field?: string }>;

export type CheckoutSqlstate = keyof typeof sqlstates;

export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isCheckoutSqlstate(code: string | undefined): code is CheckoutSqlstate {
  return code !== undefined && code in sqlstates;
}

/** Worth retrying the same statement: serialization failure, deadlock. */
export function isRetryableConflict(error: unknown): boolean {
  const code = sqlstateOf(error);
  return code === '40001' || code === '40P01';
}

/**
 * The database is (perhaps briefly) unavailable: it refused or dropped the connection, shut down,
 * ran out of connections, or is a read-only standby. Answered with 503 so the caller (the frontend,
 * Stripe) retries. Slonik wraps connection failures, keeping PostgreSQL's error as `cause`.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof ConnectionError || error instanceof BackendTerminatedError || error instanceof BackendTerminatedUnexpectedlyError) {
    return true;
  }
  for (let current = error; current; current = (current as { cause?: unknown }).cause) {
    const code = sqlstateOf(current);
    if (code && (/^08/.test(code) || /^57P0[1-3]$/.test(code) || code === '53300' || code === '25006')) return true;
    const message = (current as Error).message ?? '';
    if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Connection terminated|not currently accepting connections|timeout exceeded when trying to connect/i.test(message)) {
      return true;
    }
  }
  return false;
}
