import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startService, type RunningService } from '../../src/server.ts';
import type { StripeSimulator } from '@checkout-service/stripe-simulator';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { seedCatalog } from './orders.ts';

export type TestService = RunningService & {
  db: TestDatabase;
  simulator: StripeSimulator;
  /** Every log line the service wrote, for assertions about what is (not) logged. */
  logs: string[];
  stop(): Promise<void>;
};

/**
 * The real service (startService, as `npm start` runs it) on a database of this test file's own,
 * with the Stripe simulator on a free port, the app on a free port and its logs captured.
 */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const db = await createTestDatabase();
  await seedCatalog(db);
  const dataDir = await mkdtemp(join(tmpdir(), 'checkout-test-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const config = loadConfig({
    // As in production: the service's own login; the owner's only for migrations (already applied).
    DATABASE_URL: db.appUrl,
    DATABASE_OWNER_URL: db.url,
    MIGRATE_ON_START: 'false',
    PORT: '0',
    STRIPE_SIMULATOR_PORT: '0',
    STRIPE_TIMEOUT_MS: '2000',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    JOBS_INTERVAL_SECONDS: '0',
    ...env,
  });
  // The service's own logger, written to memory.
  const logger = createLogger(config.LOG_LEVEL, sink);
  const service = await startService(config, logger);
  if (!service.simulator) throw new Error('expected the Stripe simulator: do not set STRIPE_SECRET_KEY in tests');
  return {
    ...service,
    simulator: service.simulator,
    db,
    logs,
    async stop() {
      await service.close();
      await db.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export type JsonResponse = { status: number; headers: Headers; body: any };

/** POST /checkout as the frontend does. */
export async function postCheckout(
  service: { url: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return request(service, 'POST', '/checkout', {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function request(
  service: { url: string },
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<JsonResponse> {
  const response = await fetch(`${service.url}${path}`, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  let body: unknown = text;
  if (/json/.test(response.headers.get('content-type') ?? '')) body = JSON.parse(text);
  return { status: response.status, headers: response.headers, body };
}

export const basket = { customerId: 'c-123', currency: 'nzd', items: [{ sku: 'MILK-2L', quantity: 2 }] } as const;

/** A fresh POST /checkout of `basket` that must succeed: the order and its PaymentIntent. */
export async function checkoutBasket(service: { url: string }): Promise<{ orderId: string; paymentIntentId: string; clientSecret: string }> {
  const response = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  if (response.status !== 201) throw new Error(`POST /checkout answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}
