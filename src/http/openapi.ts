// The OpenAPI 3.1 description of every route (served at /openapi.json), generated from the zod
// schemas that validate the requests and shape the responses (issue 11.5): OpenAPI 3.1 schemas
// are JSON Schema 2020-12, which zod 4 emits (https://zod.dev/json-schema). Written by hand here:
// only the operations' prose and status lists. test/http/openapi.test.ts checks it against the
// routes the app serves and validates real responses against it.
import { z } from 'zod';
import { BODY_LIMIT_BYTES } from './body.ts';
import {
  checkoutResponseSchema, healthResponseSchema, orderResponseSchema, problemSchema, productsResponseSchema, readinessResponseSchema,
  webhookResponseSchema,
} from './responses.ts';
import { checkoutRequestSchema, idempotencyKeySchema } from './routes/checkout.ts';
import { orderIdSchema } from './routes/orders.ts';
import { productsQuerySchema } from './routes/products.ts';
import { SIGNATURE_TOLERANCE_SECONDS } from './routes/stripe-webhooks.ts';
import { stripeEventSchema } from './stripe-event-schema.ts';
import { TEXT_POLICY } from './text.ts';

/** A zod schema as the JSON Schema of a request (`input`: defaults optional) or a response (`output`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  return rest;
}

const json = (schema: z.ZodType, io: 'input' | 'output') => ({ 'application/json': { schema: jsonSchema(schema, io) } });
const problem = { $ref: '#/components/responses/Problem' };
const problems = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [String(status), problem]));

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'checkout-service',
    version: '1.0.0',
    description: [
      'Takes a basket to a paid order: Phase 1 POST /checkout (Stripe PaymentIntent), Phase 2 Stripe webhooks. Errors are RFC 9457 problem documents.',
      `Text fields: ${TEXT_POLICY}`,
      `Bodies: at most ${BODY_LIMIT_BYTES} bytes (413).`,
      'Any request may also be refused by the HTTP server itself, with a problem document: 400 (malformed HTTP, HTTP/1.1 without Host), 408 (request not received in time), 417 (an Expect other than 100-continue), 431 (header fields too large).',
    ].join(' '),
  },
  paths: {
    '/checkout': {
      post: {
        operationId: 'startCheckout',
        summary: 'Create a PENDING_PAYMENT order priced from the catalog and its Stripe PaymentIntent.',
        parameters: [{
          name: 'Idempotency-Key', in: 'header', required: true,
          schema: jsonSchema(idempotencyKeySchema, 'input'),
          description: idempotencyKeySchema.description,
        }],
        requestBody: { required: true, content: json(checkoutRequestSchema, 'input') },
        responses: {
          '201': {
            description: 'Order created (or replayed).',
            headers: { 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } }, Location: { schema: { type: 'string' } } },
            content: json(checkoutResponseSchema, 'output'),
          },
          ...problems(400, 413, 415, 502, 503),
          '409': { ...problem, description: 'A request with this key is still running, or its order is closed (type /problems/order-cancelled, -expired, -refunded, with orderId and orderStatus).' },
          '422': { ...problem, description: 'Key reused with another body, unknown SKU, or a total outside the payment provider\'s limits (/problems/amount-too-small, amount-too-large).' },
        },
      },
    },
    '/products': {
      get: {
        operationId: 'listProducts',
        summary: 'The catalog, in SKU order, a page at a time: sku, name, price, currency, and whether it can be ordered.',
        parameters: Object.entries(productsQuerySchema.shape).map(([name, schema]) => ({
          name, in: 'query', required: false, schema: jsonSchema(schema, 'input'), description: schema.description,
        })),
        responses: { '200': { description: 'One page of products.', content: json(productsResponseSchema, 'output') }, ...problems(400, 503) },
      },
    },
    '/orders/{orderId}': {
      get: {
        operationId: 'getOrder',
        summary: 'An order with its lines and status history (never the client secret).',
        parameters: [{ name: 'orderId', in: 'path', required: true, schema: jsonSchema(orderIdSchema, 'input') }],
        responses: { '200': { description: 'The order.', content: json(orderResponseSchema, 'output') }, ...problems(400, 404, 503) },
      },
    },
    '/webhooks/stripe': {
      post: {
        operationId: 'receiveStripeEvent',
        summary: `Stripe webhook endpoint: signature verified over the raw body (tolerance ${SIGNATURE_TOLERANCE_SECONDS} s).`,
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: json(stripeEventSchema, 'input') },
        responses: {
          '200': {
            description: 'Verified: applied, duplicate, ignored, or recorded as an anomaly (also when its content cannot be read: retrying would not change it).',
            content: json(webhookResponseSchema, 'output'),
          },
          ...problems(400, 413, 503),
        },
      },
    },
    '/healthz': {
      get: { operationId: 'health', summary: 'The process is alive.', responses: { '200': { description: 'Alive.', content: json(healthResponseSchema, 'output') } } },
    },
    '/readyz': {
      get: {
        operationId: 'readiness', summary: 'The database answers and every shipped migration is applied.',
        responses: {
          '200': { description: 'Ready.', content: json(readinessResponseSchema, 'output') },
          '503': { description: 'Not ready; the body says why.', content: json(readinessResponseSchema, 'output') },
        },
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
      Problem: { description: 'RFC 9457 problem details.', content: { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } } },
    },
  },
};
