// The last leg, end to end with real components: checkout → the simulator confirms with a test
// card → signed webhook → PAYMENT_CONFIRMED + outbox row → Debezium → Kafka. The service never
// talks to Kafka; these tests read the topic as the SAP integration layer does.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { orderConfirmedErrors } from '../../src/events/event-schemas.ts';
import { collectEvents, startCdc, type CdcHandle, type CollectedMessage, type EventCollector, isTestDatabase } from '../support/cdc.ts';
import { expireOrderAsJob } from '../support/orders.ts';
import { basket, postCheckout, startTestService, type TestService } from '../support/service.ts';
import { outboxOf, paymentIntentObject, postEvent, stripeEvent } from '../support/stripe-events.ts';
import { freePort, waitUntil } from '../support/wait.ts';

let service: TestService;
let cdc: CdcHandle;
let events: EventCollector;

beforeAll(async () => {
  service = await startTestService();
  cdc = await startCdc({ databaseUrl: service.db.url, releaseSlotOf: isTestDatabase });
  events = await collectEvents(cdc);
}, 300_000);

afterAll(async () => {
  await events?.close();
  // Connect first: the test database can only be dropped once nothing streams from its slot.
  await cdc?.stop();
  await service?.stop();
}, 120_000);

const of = (orderId: string) => (all: CollectedMessage[]) => all.filter((m) => m.key === orderId);

async function paidOrder(): Promise<{ orderId: string; paymentIntentId: string }> {
  const response = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
  expect(response.status).toBe(201);
  await service.stripe.paymentIntents.confirm(response.body.paymentIntentId, { payment_method: 'pm_card_visa' });
  return response.body;
}

describe('OrderConfirmed on Kafka', () => {
  it('a paid order gives exactly one message whose key, headers and value match CONTRACT.md and the schema', async () => {
    const { orderId, paymentIntentId } = await paidOrder();
    const [message] = of(orderId)(await events.waitFor((all) => of(orderId)(all).length > 0));
    const [outbox] = await outboxOf(service.db.admin, orderId);

    expect(message!.key).toBe(orderId);
    expect(message!.headerNames.sort()).toEqual(['id', 'type']);
    expect(message!.id).toBe(outbox!.id);
    expect(message!.type).toBe('OrderConfirmed');
    expect(orderConfirmedErrors(message!.value)).toEqual([]);
    expect(message!.value).toEqual(outbox!.payload);
    expect(message!.value).toMatchObject({
      eventId: outbox!.id, eventType: 'OrderConfirmed', schemaVersion: 1, orderId, customerId: 'c-123', currency: 'nzd',
      amountTotal: 1198, lines: [{ sku: 'MILK-2L', name: 'Fresh milk 2L', quantity: 2, unitAmount: 599, lineTotal: 1198 }],
      payment: { provider: 'stripe', paymentIntentId, amountReceived: 1198 },
    });

    // A later order's message proves nothing more came for this one (the WAL is read in commit order).
    const later = await paidOrder();
    await events.waitFor((all) => of(later.orderId)(all).length > 0);
    expect(of(orderId)(events.messages)).toHaveLength(1);
  });

  it('a declined, a cancelled and an expired order give no message', async () => {
    const declined = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    await expect(service.stripe.paymentIntents.confirm(declined.body.paymentIntentId, { payment_method: 'pm_card_chargeDeclined' }))
      .rejects.toMatchObject({ type: 'StripeCardError' });
    const cancelled = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    await service.stripe.paymentIntents.cancel(cancelled.body.paymentIntentId, { cancellation_reason: 'requested_by_customer' });
    const expired = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    // The expiry job's steps without Stripe: the PaymentIntent is left as it is.
    await service.db.app.query(expireOrderAsJob(expired.body.orderId));
    await service.simulator.webhooks.idle();

    const statuses = await service.db.admin.anyFirst(sql.type(z.object({ status: z.string() }))`
      select status from checkout.orders where id = any(${sql.array([declined.body.orderId, cancelled.body.orderId, expired.body.orderId], 'uuid')}) order by created_at`);
    expect(statuses).toEqual(['PENDING_PAYMENT', 'CANCELLED', 'EXPIRED']);

    const control = await paidOrder();
    await events.waitFor((all) => of(control.orderId)(all).length > 0);
    for (const order of [declined, cancelled, expired]) expect(of(order.body.orderId)(events.messages)).toEqual([]);
  });

  it('100 orders confirmed concurrently give 100 distinct event ids', async () => {
    const orders = await Promise.all(Array.from({ length: 100 }, () => paidOrder()));
    const ids = new Set(orders.map((o) => o.orderId));
    const mine = (all: CollectedMessage[]) => all.filter((m) => ids.has(m.key ?? ''));
    await events.waitFor((all) => new Set(mine(all).map((m) => m.key)).size === 100, 60_000);
    const eventIds = new Set(mine(events.messages).map((m) => m.id));
    expect(eventIds.size).toBe(100);
    const outboxIds = await service.db.admin.anyFirst(sql.type(z.object({ id: z.string() }))`
      select id::text from checkout.outbox where aggregateid = any(${sql.array([...ids], 'text')})`);
    expect(new Set(outboxIds)).toEqual(eventIds);
  }, 120_000);

  it('Kafka Connect killed with SIGKILL mid-stream and restarted: every event arrives, duplicates only of ids already seen', async () => {
    const confirming = (async () => {
      const confirmed: string[] = [];
      for (let i = 0; i < 40; i++) confirmed.push((await paidOrder()).orderId);
      return confirmed;
    })();
    // Kill while orders are being confirmed, so that some are committed while Connect is down.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cdc.killConnect('SIGKILL');
    const orderIds = await confirming;
    await cdc.restartConnect();

    const ids = new Set(orderIds);
    const mine = (all: CollectedMessage[]) => all.filter((m) => ids.has(m.key ?? ''));
    await events.waitFor((all) => new Set(mine(all).map((m) => m.key)).size === ids.size, 120_000);
    const byEventId = new Map<string, CollectedMessage[]>();
    for (const m of mine(events.messages)) byEventId.set(m.id!, [...(byEventId.get(m.id!) ?? []), m]);
    expect(byEventId.size).toBe(ids.size);
    // A re-delivery is the same event: same id, same key, same bytes.
    for (const copies of byEventId.values()) {
      expect(new Set(copies.map((c) => `${c.key}|${c.raw}`)).size).toBe(1);
    }
  }, 240_000);

  it('Kafka killed with SIGKILL while orders are confirmed, then restarted: every event arrives', async () => {
    await cdc.killKafka('SIGKILL');
    const orderIds: string[] = [];
    for (let i = 0; i < 10; i++) orderIds.push((await paidOrder()).orderId);
    await cdc.restartKafka();

    const ids = new Set(orderIds);
    const mine = (all: CollectedMessage[]) => all.filter((m) => ids.has(m.key ?? ''));
    await events.waitFor((all) => new Set(mine(all).map((m) => m.key)).size === ids.size, 120_000);
    expect(new Set(mine(events.messages).map((m) => m.id)).size).toBe(ids.size);
  }, 240_000);

  it('the service killed right after the commit: the event still arrives', async () => {
    // The webhook goes to a second instance of the service, run as its own process, which is
    // killed with SIGKILL as soon as the confirmation is committed.
    const order = await postCheckout(service, basket, { 'idempotency-key': randomUUID() });
    service.simulator.webhooks.pause(); // the in-process service must not confirm it
    await service.stripe.paymentIntents.confirm(order.body.paymentIntentId, { payment_method: 'pm_card_visa' });
    const secret = `whsec_${randomUUID().replaceAll('-', '')}`;
    const instance = await startServiceProcess({ DATABASE_URL: service.db.appUrl, STRIPE_WEBHOOK_SECRET: secret });
    try {
      const event = stripeEvent('payment_intent.succeeded', paymentIntentObject({ id: order.body.paymentIntentId, orderId: order.body.orderId, amount: 1198 }));
      const delivery = postEvent({ url: instance.url, webhookSecret: secret }, event).catch(() => 'connection lost');
      await waitUntil('the confirmation is committed', async () => (await outboxOf(service.db.admin, order.body.orderId)).length === 1, 30_000, 10);
      instance.kill();
      await delivery;
    } finally {
      instance.kill();
      service.simulator.webhooks.reset();
    }
    const [message] = of(order.body.orderId)(await events.waitFor((all) => of(order.body.orderId)(all).length > 0));
    expect(message!.type).toBe('OrderConfirmed');
  }, 120_000);
});

/** `node src/main.ts` as a process of its own (as a deployment runs it), ready to take requests. */
async function startServiceProcess(env: Record<string, string>): Promise<{ url: string; kill(): void }> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'checkout-e2e-'));
  await chmod(dataDir, 0o755);
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), STRIPE_SIMULATOR_PORT: '0', JOBS_INTERVAL_SECONDS: '0', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('checkout-service is listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`service process did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      void rm(dataDir, { recursive: true, force: true });
    },
  };
}
