// /openapi.json must describe exactly what the app serves: the routes come from the Koa routers
// themselves, so a route added without documentation (or documented but gone) fails here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { pino } from 'pino';
import { createApp } from '../../src/http/app.ts';
import { checkoutRequestSchema } from '../../src/http/routes/checkout.ts';
import { basket, checkoutBasket, postCheckout, request, startTestService, type TestService } from '../support/service.ts';
import { postEvent, stripeEvent } from '../support/stripe-events.ts';

let service: TestService;
let document: any;
beforeAll(async () => {
  service = await startTestService();
  const response = await request(service, 'GET', '/openapi.json');
  expect(response.status).toBe(200);
  document = response.body;
});
afterAll(async () => service?.stop());

/** "METHOD /path/{param}" for every route the app's routers serve (HEAD is Koa's automatic twin of GET). */
function servedOperations(): string[] {
  const { routers } = createApp({
    pool: service.pool, stripe: service.stripe, logger: pino({ level: 'silent' }), webhookSecret: service.webhookSecret,
    stripeLivemode: false, checkoutLeaseSeconds: 30,
  });
  return routers.flatMap((router) => router.stack.flatMap((layer) => {
    if (typeof layer.path !== 'string') throw new Error(`a RegExp route cannot be documented: ${String(layer.path)}`);
    const path = layer.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    return layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${path}`);
  })).sort();
}

function documentedOperations(): string[] {
  const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
  return Object.entries(document.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => Object.keys(item).filter((k) => methods.includes(k)).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

/** Every "$ref": "#/…" in the document, with whether it points at something. */
function refs(node: unknown, found: Array<[string, boolean]> = []): Array<[string, boolean]> {
  if (Array.isArray(node)) node.forEach((child) => refs(child, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const target = value.replace(/^#\//, '').split('/').reduce<any>((at, part) => at?.[part], document);
        found.push([value, value.startsWith('#/') && target !== undefined]);
      } else refs(value, found);
    }
  }
  return found;
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document whose references all resolve', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const all = refs(document);
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter(([, ok]) => !ok)).toEqual([]);
  });

  it('documents exactly the routes the app serves, method by method', () => {
    const served = servedOperations();
    expect(served).toContain('POST /checkout');
    expect(served).toContain('GET /orders/{orderId}');
    expect(documentedOperations()).toEqual(served);
  });

  it('every operation has responses, and path parameters are declared', () => {
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      const declared = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, operation] of Object.entries(item)) {
        expect([method, path, Object.keys(operation.responses ?? {}).length > 0]).toEqual([method, path, true]);
        const inPath = (operation.parameters ?? []).filter((p: { in: string }) => p.in === 'path').map((p: { name: string }) => p.name);
        expect([method, path, inPath.sort()]).toEqual([method, path, declared.sort()]);
      }
    }
  });

  it('POST /checkout documents only the statuses CONTRACT.md names, and all of them', () => {
    const contract = ['201', '400', '409', '413', '415', '422', '502', '503'];
    const documented = Object.keys(document.paths['/checkout'].post.responses).sort();
    expect(documented.filter((status) => !contract.includes(status))).toEqual([]);
    expect(contract.filter((status) => !documented.includes(status))).toEqual([]);
  });
});

// The document is generated from the zod schemas the handlers use (src/http/openapi.ts): real
// responses, validated against it with an independent JSON Schema 2020-12 validator, must conform.
describe('responses the service sends conform to the document', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);
  const contentSchema = (path: string, method: string, status: string): object => {
    const response = document.paths[path][method].responses[status];
    const resolved = response.$ref ? document.components.responses.Problem : response;
    return Object.values(resolved.content as Record<string, { schema: object }>)[0]!.schema;
  };
  const expectConforms = (schema: object, body: unknown) => {
    const validate = ajv.compile(schema);
    expect([validate(body), validate.errors ?? null]).toEqual([true, null]);
  };

  it('POST /checkout 201 and 400, GET /orders/{orderId} 200 and 404, GET /products 200 and 400, webhook 200', async () => {
    const created = await postCheckout(service, basket, { 'idempotency-key': `openapi-${Date.now()}` });
    expect(created.status).toBe(201);
    expectConforms(contentSchema('/checkout', 'post', '201'), created.body);
    const invalid = await postCheckout(service, { ...basket, customerId: 'a\u0000' }, { 'idempotency-key': 'k' });
    expect(invalid.status).toBe(400);
    expectConforms(contentSchema('/checkout', 'post', '400'), invalid.body);

    const { orderId } = await checkoutBasket(service);
    const order = await request(service, 'GET', `/orders/${orderId}`);
    expectConforms(contentSchema('/orders/{orderId}', 'get', '200'), order.body);
    const missing = await request(service, 'GET', '/orders/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expectConforms(contentSchema('/orders/{orderId}', 'get', '404'), missing.body);

    const event = await postEvent(service, stripeEvent('customer.created', { id: 'cus_1', object: 'customer' }));
    expectConforms(contentSchema('/webhooks/stripe', 'post', '200'), event.body);
    expectConforms(contentSchema('/products', 'get', '200'), (await request(service, 'GET', '/products?limit=2')).body);
    const badPage = await request(service, 'GET', '/products?limit=0');
    expect(badPage.status).toBe(400);
    expectConforms(contentSchema('/products', 'get', '400'), badPage.body);
    expectConforms(contentSchema('/healthz', 'get', '200'), (await request(service, 'GET', '/healthz')).body);
    expectConforms(contentSchema('/readyz', 'get', '200'), (await request(service, 'GET', '/readyz')).body);
  });

  it('the request body schema accepts what the handler accepts and refuses what it refuses', () => {
    const validate = ajv.compile(document.paths['/checkout'].post.requestBody.content['application/json'].schema);
    for (const body of [basket, { ...basket, customerId: 'é'.repeat(64) }, { ...basket, extra: 1 }, { ...basket, items: [] }, { ...basket, customerId: 'x'.repeat(65) }]) {
      expect([body, validate(body)]).toEqual([body, checkoutRequestSchema.safeParse(body).success]);
    }
  });
});

