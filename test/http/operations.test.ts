// Operations endpoints, request ids, error shapes for routing misses, and what reaches the logs.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { migrationsTable } from '../../src/db/migrate.ts';
import { bringDatabaseBack, takeDatabaseDown } from '../support/database-outage.ts';
import { basket, postCheckout, request, startTestService, type TestService } from '../support/service.ts';
import { postEvent, stripeEvent, waitUntil } from '../support/stripe-events.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => {
  if (service) await bringDatabaseBack(service.db.name).catch(() => {});
  await service?.stop();
});

async function checkout() {
  const response = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  expect(response.status).toBe(201);
  return response;
}

/** The value of one sample in the Prometheus text, 0 when absent. */
async function sample(series: string): Promise<number> {
  const response = await request(service, 'GET', '/metrics');
  const line = (response.body as string).split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('health and readiness', () => {
  it('/healthz answers 200', async () => {
    expect(await request(service, 'GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('/readyz answers 200 with no pending migrations', async () => {
    expect(await request(service, 'GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', pendingMigrations: [] } });
  });

  it('/readyz answers 503 naming a shipped migration that is not applied', async () => {
    const table = sql.identifier(['public', migrationsTable]);
    const row = z.object({ id: z.number(), name: z.string(), run_on: z.unknown() });
    const last = await service.db.admin.one(sql.type(row)`select id, name, run_on from ${table} order by id desc limit 1`);
    await service.db.admin.query(sql.unsafe`delete from ${table} where id = ${last.id}`);
    try {
      const response = await request(service, 'GET', '/readyz');
      expect(response).toMatchObject({ status: 503, body: { pendingMigrations: [last.name] } });
    } finally {
      await service.db.admin.query(sql.unsafe`insert into ${table} (id, name, run_on) overriding system value values (${last.id}, ${last.name}, now())`);
    }
    expect((await request(service, 'GET', '/readyz')).status).toBe(200);
  });

  it('/readyz answers 503 while the database refuses connections, /healthz still 200; ready again after', async () => {
    await takeDatabaseDown(service.db.name);
    try {
      const response = await request(service, 'GET', '/readyz');
      expect(response).toMatchObject({ status: 503, body: { database: 'unreachable' } });
      expect((await request(service, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await bringDatabaseBack(service.db.name);
    }
    await waitUntil('/readyz is 200 again', async () => (await request(service, 'GET', '/readyz')).status === 200);
  });
});

describe('/metrics', () => {
  it('is Prometheus text with request counts by route and status, and orders by transition', async () => {
    const requests = 'checkout_http_requests_total{method="POST",route="/checkout",status="201"}';
    const confirmations = 'checkout_order_transitions{from="PENDING_PAYMENT",to="PAYMENT_CONFIRMED"}';
    const response = await request(service, 'GET', '/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.body).toMatch(/^# HELP checkout_http_requests_total /m);
    expect(response.body).toMatch(/^# TYPE checkout_http_request_duration_seconds histogram$/m);

    const [requestsBefore, confirmationsBefore] = [await sample(requests), await sample(confirmations)];
    const created = await checkout();
    expect(await sample(requests)).toBe(requestsBefore + 1);
    await service.stripe.paymentIntents.confirm(created.body.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    expect(await sample(confirmations)).toBe(confirmationsBefore + 1);
  });
});

describe('request ids and routing misses', () => {
  it('echoes X-Request-Id when sent, and puts it in problem bodies', async () => {
    const id = `ops-${randomUUID()}`;
    const response = await request(service, 'GET', '/orders/not-a-uuid', { headers: { 'x-request-id': id } });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).toBe(id);
    expect(response.body.requestId).toBe(id);
  });

  it('generates one otherwise (also when the given one is unusable)', async () => {
    const plain = await request(service, 'GET', '/healthz');
    const unusable = await request(service, 'GET', '/healthz', { headers: { 'x-request-id': 'has spaces {and} braces' } });
    for (const response of [plain, unusable]) expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(plain.headers.get('x-request-id')).not.toBe(unusable.headers.get('x-request-id'));
  });

  it('unknown route → 404 problem+json with the request id', async () => {
    const response = await request(service, 'GET', '/no-such-thing');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 404, title: expect.any(String), detail: expect.any(String), requestId: response.headers.get('x-request-id') });
  });

  it.each([['GET', '/checkout'], ['DELETE', '/orders/00000000-0000-0000-0000-000000000000'], ['PUT', '/webhooks/stripe'], ['POST', '/healthz']])(
    'wrong method %s %s → 405 problem+json', async (method, path) => {
      const response = await request(service, method, path);
      expect(response.status).toBe(405);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ status: 405, requestId: response.headers.get('x-request-id') });
    });

  // RFC 9110 §15.5.6: a 405 MUST carry Allow.
  it('a 405 says which methods are allowed', async () => {
    const response = await request(service, 'GET', '/checkout');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('logs', () => {
  const parsed = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  it('never contain a client secret nor the webhook secret', async () => {
    const key = randomUUID();
    const created = await postCheckout(service, basket, { 'idempotency-key': key });
    const replay = await postCheckout(service, basket, { 'idempotency-key': key });
    expect(replay.body.clientSecret).toBe(created.body.clientSecret);
    await service.stripe.paymentIntents.confirm(created.body.paymentIntentId, { payment_method: 'pm_card_visa' });
    await service.simulator.webhooks.idle();
    await postEvent(service, stripeEvent('customer.created', { id: 'cus_1' }), { secret: 'whsec_wrong0000' });
    const all = service.logs.join('');
    expect(all).toContain(created.body.orderId); // the flow was logged at all
    expect(all).not.toContain(created.body.clientSecret);
    expect(all).not.toContain(service.webhookSecret);
  });

  it('every line the service writes for a request carries its request id', async () => {
    await service.simulator.webhooks.idle();
    // Webhooks the simulator sends meanwhile are other requests: hold them back.
    service.simulator.webhooks.pause();
    try {
      const requests = [
        (id: string) => postCheckout(service, basket, { 'idempotency-key': randomUUID(), 'x-request-id': id }),
        (id: string) => postCheckout(service, { customerId: '' }, { 'idempotency-key': randomUUID(), 'x-request-id': id }),
        (id: string) => postEvent(service, stripeEvent('customer.created', { id: 'cus_2' }), { headers: { 'x-request-id': id } }),
        (id: string) => request(service, 'GET', '/nowhere', { headers: { 'x-request-id': id } }),
      ];
      for (const send of requests) {
        const id = `log-${randomUUID()}`;
        const before = service.logs.length;
        await send(id);
        const lines = parsed(service.logs.slice(before)).filter((l) => l.component !== 'stripe-simulator');
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.filter((l) => l.requestId !== id)).toEqual([]);
      }
    } finally {
      service.simulator.webhooks.resume();
    }
  });
});
