import type { Context, Middleware } from 'koa';
import Stripe from 'stripe';
import type { Order } from '../db/checkout-functions.ts';
import { isCheckoutSqlstate, isDatabaseUnavailable, sqlstateOf, sqlstates } from '../db/errors.ts';
import type { Logger } from '../log.ts';
import type { ProblemDocument } from './responses.ts';
import { printableExcerpt } from './text.ts';

export type FieldError = { field: string; in: 'body' | 'header' | 'path' | 'query'; message: string };

/** An error the client may see, answered as RFC 9457 application/problem+json. */
export class Problem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  /** RFC 9457 extension members, e.g. the orderId a refusal is about. */
  readonly extensions: Record<string, unknown>;

  constructor(
    status: number, slug: string, title: string,
    options: { detail?: string; errors?: FieldError[]; headers?: Record<string, string>; extensions?: Record<string, unknown> } = {},
  ) {
    super(title);
    this.status = status;
    this.slug = slug;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

export function validationProblem(errors: FieldError[]): Problem {
  return new Problem(400, 'validation-error', 'The request is not valid', {
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}

/**
 * The answer to the Idempotency-Key of a CANCELLED, EXPIRED or REFUNDED order, the same every time:
 * its type names the status (/problems/order-expired …), its body the order.
 */
export function closedOrderProblem(order: Pick<Order, 'orderId' | 'status'>): Problem {
  const status = order.status.toLowerCase();
  return new Problem(409, `order-${status}`, `The order is ${status}`, {
    detail: `Order ${order.orderId} is ${order.status} and can no longer be paid; start a new checkout with a new Idempotency-Key.`,
    extensions: { orderId: order.orderId, orderStatus: order.status },
  });
}

/** Maps anything thrown below the edge to a Problem; unknown errors become an opaque 500. */
export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  const code = sqlstateOf(error);
  if (isCheckoutSqlstate(code)) {
    const known: { status: number; slug: string; title: string; field?: string } = sqlstates[code];
    const detail = (error as Error).message;
    return new Problem(known.status, known.slug, known.title, {
      detail, ...(known.field ? { errors: [{ field: known.field, in: 'body', message: detail }] } : {}),
    });
  }
  if (isDatabaseUnavailable(error)) {
    return new Problem(503, 'database-unavailable', 'The order database is unavailable', {
      detail: 'Nothing was lost; retry the same request later.', headers: { 'Retry-After': '5' },
    });
  }
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeRateLimitError) {
    return new Problem(503, 'payment-provider-unavailable', 'The payment provider cannot be reached', {
      detail: 'The order is kept; retry with the same Idempotency-Key to resume it.', headers: { 'Retry-After': '5' },
    });
  }
  if (error instanceof Stripe.errors.StripeError) {
    return new Problem(502, 'payment-provider-error', 'The payment provider failed', {
      detail: 'The order is kept; retry with the same Idempotency-Key to resume it.',
    });
  }
  const http = error as { status?: unknown; expose?: unknown; message?: string };
  if (typeof http.status === 'number' && http.status >= 400 && http.status < 500 && http.expose) {
    return new Problem(http.status, `http-${http.status}`, http.message ?? 'Request error');
  }
  return new Problem(500, 'internal-error', 'Internal server error');
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * The RFC 9457 document of a problem (responses.ts's problemSchema). `instance` is the request
 * path, which a client chooses: it is echoed bounded and printable, like anything else it sent.
 */
export function problemDocument(problem: Problem, instance: string | undefined, requestId: string | undefined): ProblemDocument {
  return {
    // Extensions first: the members RFC 9457 defines cannot be overridden by them.
    ...problem.extensions,
    type: `/problems/${problem.slug}`,
    title: problem.message,
    status: problem.status,
    detail: problem.detail ?? problem.message,
    ...(instance === undefined ? {} : { instance: printableExcerpt(instance, 256) }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(problem.errors ? { errors: problem.errors } : {}),
  };
}

function send(ctx: Context, problem: Problem): void {
  ctx.status = problem.status;
  ctx.set(problem.headers);
  ctx.type = PROBLEM_CONTENT_TYPE;
  ctx.body = problemDocument(problem, ctx.path, ctx.state.requestId);
}

const notFound = (ctx: Context) =>
  new Problem(404, 'not-found', 'No such resource', { detail: `${ctx.method} ${printableExcerpt(ctx.path, 256)} is not served here` });
const methodNotAllowed = (ctx: Context) =>
  new Problem(405, 'method-not-allowed', 'Method not allowed', { detail: `${printableExcerpt(ctx.path, 256)} allows ${ctx.response.get('allow')}` });

/** The one place errors become responses (and log lines); handlers never catch to answer. */
export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      // The router answers these with an empty body (and, for 405, the Allow header it set).
      if (ctx.status === 404 && ctx.body === undefined) {
        send(ctx, notFound(ctx));
      } else if (ctx.status === 405 && !ctx.body) {
        send(ctx, methodNotAllowed(ctx));
      } else if (ctx.status === 501 && !ctx.body) {
        // The router's 501 for a method it does not implement (TRACE, PROPFIND…). A method the
        // client chose is the client's error, answered as such: no 5xx for it (issue 10).
        if (!ctx.response.get('allow')) ctx.remove('Allow');
        send(ctx, ctx.response.get('allow') ? methodNotAllowed(ctx) : notFound(ctx));
      }
    } catch (error) {
      const problem = toProblem(error);
      const log = ctx.state.log ?? logger;
      if (problem.status >= 500) log.error({ err: error, status: problem.status }, 'request failed');
      else log.info({ status: problem.status, problem: problem.slug, detail: problem.detail }, 'request refused');
      send(ctx, problem);
    }
  };
}
