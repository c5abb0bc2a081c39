// The OpenAPI 3.1 description of every route (served at /openapi.json; test/http/openapi.test.ts
// checks it against the routes the app serves).
const problem = { $ref: '#/components/responses/Problem' };
const json = (schema: object) => ({ 'application/json': { schema } });

const orderLine = {
  type: 'object',
  required: ['sku', 'name', 'quantity', 'unitAmount', 'lineTotal'],
  properties: {
    sku: { type: 'string' }, name: { type: 'string' }, quantity: { type: 'integer', minimum: 1, maximum: 999 },
    unitAmount: { type: 'integer', description: 'Minor units (cents).' }, lineTotal: { type: 'integer' },
  },
};
const status = { type: 'string', enum: ['PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'] };
const orderCore = {
  orderId: { type: 'string', format: 'uuid' }, status, currency: { type: 'string', pattern: '^[a-z]{3}$' },
  amountTotal: { type: 'integer' }, lines: { type: 'array', items: orderLine },
  paymentIntentId: { type: ['string', 'null'] },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'checkout-service',
    version: '1.0.0',
    description: 'Takes a basket to a paid order: Phase 1 POST /checkout (Stripe PaymentIntent), Phase 2 Stripe webhooks. Errors are RFC 9457 problem documents.',
  },
  paths: {
    '/checkout': {
      post: {
        operationId: 'startCheckout',
        summary: 'Create a PENDING_PAYMENT order priced from the catalog and its Stripe PaymentIntent.',
        parameters: [{
          name: 'Idempotency-Key', in: 'header', required: true,
          schema: { type: 'string', pattern: '^[\\x20-\\x7E]{1,255}$' },
          description: 'Same key and body again: the same order (Idempotent-Replayed: true), with its clientSecret while it waits for payment, without once paid; 409 /problems/order-{cancelled,expired,refunded} once closed.',
        }],
        requestBody: {
          required: true,
          content: json({
            type: 'object', additionalProperties: false, required: ['customerId', 'items'],
            properties: {
              customerId: { type: 'string', minLength: 1, maxLength: 64 },
              currency: { type: 'string', pattern: '^[a-z]{3}$', default: 'nzd' },
              items: {
                type: 'array', minItems: 1, maxItems: 100,
                items: {
                  type: 'object', additionalProperties: false, required: ['sku', 'quantity'],
                  properties: { sku: { type: 'string', minLength: 1, maxLength: 64 }, quantity: { type: 'integer', minimum: 1, maximum: 999 } },
                },
              },
            },
          }),
        },
        responses: {
          '201': {
            description: 'Order created (or replayed).',
            headers: { 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } }, Location: { schema: { type: 'string' } } },
            content: json({
              type: 'object', required: ['orderId', 'status'],
              properties: { ...orderCore, clientSecret: { type: 'string', description: 'Absent once the order is PAYMENT_CONFIRMED.' } },
            }),
          },
          '400': problem,
          '409': { ...problem, description: 'A request with this key is still running, or its order is closed (type /problems/order-cancelled, -expired, -refunded, with orderId).' },
          '413': problem, '415': problem,
          '422': { ...problem, description: 'Key reused with another body, unknown SKU, or a total outside the payment provider\'s limits (/problems/amount-too-small, amount-too-large).' },
          '502': problem, '503': problem,
        },
      },
    },
    '/orders/{orderId}': {
      get: {
        operationId: 'getOrder',
        summary: 'An order with its lines and status history (never the client secret).',
        parameters: [{ name: 'orderId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        responses: {
          '200': {
            description: 'The order.',
            content: json({
              type: 'object',
              properties: {
                ...orderCore,
                amountReceived: { type: ['integer', 'null'] }, amountRefunded: { type: 'integer' },
                createdAt: { type: 'string', format: 'date-time' }, updatedAt: { type: 'string', format: 'date-time' },
                history: {
                  type: 'array',
                  items: {
                    type: 'object', required: ['from', 'to', 'at', 'source'],
                    properties: { from: { ...status, type: ['string', 'null'] }, to: status, at: { type: 'string' }, source: { type: 'string' }, reason: { type: ['string', 'null'] } },
                  },
                },
                paymentEvents: { type: 'array', items: { type: 'object' } },
              },
            }),
          },
          '400': problem, '404': problem, '503': problem,
        },
      },
    },
    '/webhooks/stripe': {
      post: {
        operationId: 'receiveStripeEvent',
        summary: 'Stripe webhook endpoint: signature verified over the raw body (tolerance 300 s).',
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: json({ type: 'object', description: 'A Stripe Event.' }) },
        responses: {
          '200': {
            description: 'Verified; applied, duplicate, ignored or recorded as an anomaly.',
            content: json({ type: 'object', properties: { received: { const: true }, outcome: { enum: ['applied', 'duplicate', 'ignored', 'anomaly'] }, orderId: { type: ['string', 'null'] } } }),
          },
          '400': problem, '413': problem, '503': problem,
        },
      },
    },
    '/healthz': { get: { operationId: 'health', summary: 'The process is alive.', responses: { '200': { description: 'Alive.' } } } },
    '/readyz': {
      get: {
        operationId: 'readiness', summary: 'The database answers and every shipped migration is applied.',
        responses: { '200': { description: 'Ready.' }, '503': { description: 'Not ready; the body says why.' } },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics', summary: 'Prometheus metrics.',
        responses: { '200': { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/openapi.json': { get: { operationId: 'openapi', summary: 'This document.', responses: { '200': { description: 'OpenAPI 3.1.' } } } },
  },
  components: {
    responses: {
      Problem: {
        description: 'RFC 9457 problem details.',
        content: {
          'application/problem+json': {
            schema: {
              type: 'object', required: ['type', 'title', 'status', 'detail'],
              properties: {
                type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
                instance: { type: 'string' }, requestId: { type: 'string' },
                errors: {
                  type: 'array',
                  items: { type: 'object', required: ['field', 'in', 'message'], properties: { field: { type: 'string' }, in: { enum: ['body', 'header', 'path'] }, message: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;
