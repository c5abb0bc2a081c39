// /openapi.json must describe exactly what the app serves: the routes come from the Koa routers
// themselves, so a route added without documentation (or documented but gone) fails here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { createApp } from '../../src/http/app.ts';
import { request, startTestService, type TestService } from '../support/service.ts';

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
