/** Stripe's v1 error envelope: `{ error: { type, code, message, param, … } }`. */
export type StripeErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | (string & {});

export interface StripeErrorFields {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
}

const DOC_BASE = 'https://stripe.com/docs/error-codes';

/**
 * Thrown by handlers and turned into a Stripe-shaped response. `stored` says whether the
 * idempotency layer keeps it (default yes): Stripe saves results once an endpoint began executing,
 * whatever they are; parameter validation failures and conflicts are not saved and may be retried
 * with the same key (docs.stripe.com/idempotency).
 */
export class StripeApiError extends Error {
  readonly status: number;
  readonly fields: StripeErrorFields;
  readonly stored: boolean;
  readonly headers: Record<string, string>;

  constructor(status: number, fields: StripeErrorFields, options: { stored?: boolean; headers?: Record<string, string> } = {}) {
    super(fields.message);
    this.status = status;
    this.fields = fields;
    this.stored = options.stored ?? true;
    this.headers = options.headers ?? {};
  }

  toBody(requestId: string): { error: Record<string, unknown> } {
    const { code } = this.fields;
    return {
      error: {
        ...(code ? { code, doc_url: `${DOC_BASE}#${code.replaceAll('_', '-')}` } : {}),
        ...this.fields,
        request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}`,
      },
    };
  }
}

/** A bad or missing request parameter: 400, never stored for idempotency (validation failure). */
export function invalidParam(param: string, message: string, code?: string): StripeApiError {
  return new StripeApiError(
    400,
    { type: 'invalid_request_error', message, param, ...(code ? { code } : {}) },
    { stored: false },
  );
}

export function missingParam(param: string): StripeApiError {
  return invalidParam(param, `Missing required param: ${param}.`, 'parameter_missing');
}

export function unknownParam(param: string): StripeApiError {
  return invalidParam(param, `Received unknown parameter: ${param}`, 'parameter_unknown');
}

export function resourceMissing(kind: string, id: string, param = 'id'): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    param,
    message: `No such ${kind}: '${id}'`,
  });
}

export function unexpectedState(paymentIntent: { id: string; status: string }, action: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'invalid_request_error',
    code: 'payment_intent_unexpected_state',
    message: `You cannot ${action} this PaymentIntent because it has a status of ${paymentIntent.status}.`,
    payment_intent: structuredClone(paymentIntent),
  });
}

export function routeNotFound(method: string, path: string): StripeApiError {
  return new StripeApiError(404, {
    type: 'invalid_request_error',
    message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  });
}
