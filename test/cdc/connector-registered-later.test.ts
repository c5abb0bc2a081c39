// The order docker-compose and a Connect cluster start in: the service takes payments first, and the
// connector is registered later through Kafka Connect's REST API by debezium/register.ts. Every
// OrderConfirmed committed before the registration must still reach Kafka.
// Skipped when KAFKA_BROKERS names an external Kafka (its Connect streams another database).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { sql } from 'slonik';
import { z } from 'zod';
import { orderConfirmedErrors } from '../../src/events/event-schemas.ts';
import { collectEvents, startCdc, type CdcHandle, type EventCollector, isTestDatabase } from '../support/cdc.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createOrder, paymentIntentIdFor, seedCatalog } from '../support/orders.ts';

jest.setTimeout(300_000);

let db: TestDatabase;
let cdc: CdcHandle;
let events: EventCollector;
const paidEarly: string[] = [];

/** A real order confirmed the way the webhook does it: the trigger writes its OrderConfirmed row. */
async function paidOrder(): Promise<string> {
  const { orderId } = await createOrder(db.app);
  const pi = paymentIntentIdFor(orderId);
  await db.app.query(sql.unsafe`
    select checkout.apply_stripe_event(${`evt_${randomUUID().replaceAll('-', '')}`}, 'payment_intent.succeeded', ${sql.jsonb({
      id: pi, object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd', status: 'succeeded',
      metadata: { order_id: orderId }, latest_charge: null,
    })})`);
  return orderId;
}

beforeAll(async () => {
  if (process.env.KAFKA_BROKERS) return;
  db = await createTestDatabase();
  await seedCatalog(db);
  for (let i = 0; i < 5; i++) paidEarly.push(await paidOrder());
  cdc = await startCdc({ databaseUrl: db.url, registration: 'rest', releaseSlotOf: isTestDatabase });
  events = await collectEvents(cdc);
});

afterAll(async () => {
  await events?.close();
  await cdc?.stop();
  await db?.drop();
});

const describeLocal = process.env.KAFKA_BROKERS ? describe.skip : describe;

describeLocal('connector registered through the REST API after orders were paid', () => {
  test('every order paid before the registration arrives, as the contract describes it', async () => {
    const outbox = await db.admin.any(sql.type(z.object({ id: z.string(), orderId: z.string() }))`
      select id::text, aggregateid as "orderId" from checkout.outbox where type = 'OrderConfirmed'`);
    expect(outbox.map((r) => r.orderId).sort()).toEqual([...paidEarly].sort());
    const ids = new Set(outbox.map((r) => r.id));
    await events.waitFor((all) => new Set(all.filter((m) => ids.has(m.id!)).map((m) => m.id)).size === ids.size, 60_000);
    for (const r of outbox) {
      const m = events.messages.find((x) => x.id === r.id)!;
      expect(m).toMatchObject({ key: r.orderId, type: 'OrderConfirmed', topic: cdc.topics.confirmed });
      expect(orderConfirmedErrors(m.value)).toEqual([]);
    }
  });

  test('and orders paid after it stream as usual', async () => {
    const orderId = await paidOrder();
    await events.waitFor((all) => all.some((m) => m.key === orderId && m.type === 'OrderConfirmed'), 60_000);
  });
});
