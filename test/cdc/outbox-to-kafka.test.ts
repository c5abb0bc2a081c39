// Outbox rows → Debezium → Kafka, against a scratch database with the migrations' outbox table,
// publication and CDC role, and the real Kafka/Connect/Debezium of the local runner. Skipped when
// KAFKA_BROKERS names an external Kafka: its Connect streams another database, not this one.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { collectEvents, startCdc, type CdcHandle, type CollectedMessage, type EventCollector } from '../support/cdc.ts';
import { createScratchDatabase, isScratchDatabase, type ScratchDatabase } from './scratch-database.ts';

// The first run on a fresh machine downloads the jars.
jest.setTimeout(300_000);

let db: ScratchDatabase;
let cdc: CdcHandle;
let events: EventCollector;
let beforeStartId: string;

interface Row {
  id: string;
  orderId: string;
  payload: Record<string, unknown>;
}

function row(extra: Record<string, unknown> = {}): Row {
  const id = randomUUID();
  const orderId = randomUUID();
  return {
    id,
    orderId,
    payload: {
      eventId: id, eventType: 'OrderConfirmed', schemaVersion: 1, occurredAt: new Date().toISOString(),
      orderId, customerId: 'c-123', currency: 'nzd', amountTotal: 1198,
      lines: [{ sku: 'MILK-2L', name: 'Milk 2 L — “trim”', quantity: 2, unitAmount: 599, lineTotal: 1198 }],
      payment: { provider: 'stripe', paymentIntentId: `pi_${id.slice(0, 8)}`, amountReceived: 1198 },
      ...extra,
    },
  };
}

/** Inserts rows in one transaction, as the order trigger does. */
async function insert(...rows: Row[]): Promise<void> {
  const values = rows.map((_, i) => `($${i * 3 + 1}::uuid, 'Order', $${i * 3 + 2}, 'OrderConfirmed', $${i * 3 + 3}::jsonb)`);
  await db.query(
    `insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload) values ${values.join(', ')}`,
    rows.flatMap((r) => [r.id, r.orderId, JSON.stringify(r.payload)]),
  );
}

const byId = (messages: CollectedMessage[], ids: Set<string>): CollectedMessage[] =>
  messages.filter((m) => m.id !== null && ids.has(m.id));
const allArrived = (ids: Set<string>) => (messages: CollectedMessage[]) =>
  new Set(byId(messages, ids).map((m) => m.id)).size === ids.size;

beforeAll(async () => {
  if (process.env.KAFKA_BROKERS) return;
  db = await createScratchDatabase();
  // Written before the connector ever ran: snapshot.mode=no_data must not send it.
  const early = row();
  beforeStartId = early.id;
  await insert(early);
  cdc = await startCdc({ databaseUrl: db.url, releaseSlotOf: isScratchDatabase });
  events = await collectEvents(cdc);
});

afterAll(async () => {
  await events?.close();
  await cdc?.stop();
  await db?.drop();
});

const describeLocal = process.env.KAFKA_BROKERS ? describe.skip : describe;

describeLocal('outbox → Debezium → Kafka', () => {
  test('key, headers and value are exactly the outbox row, in commit order', async () => {
    const rows = [row(), row(), row({ note: 'a second transaction' })];
    await insert(rows[0]!, rows[1]!);
    await insert(rows[2]!);
    const ids = new Set(rows.map((r) => r.id));
    await events.waitFor(allArrived(ids));

    const stored = await db.query<{ id: string; text: string }>(
      'select id::text, payload::text as text from checkout.outbox where id = any($1::uuid[])',
      [[...ids]],
    );
    const received = byId(events.messages, ids);
    expect(received.map((m) => m.id)).toEqual(rows.map((r) => r.id));
    for (const r of rows) {
      const m = received.find((x) => x.id === r.id)!;
      expect(m.key).toBe(r.orderId);
      expect(m.type).toBe('OrderConfirmed');
      expect(m.headerNames.sort()).toEqual(['id', 'type']);
      // Byte for byte what PostgreSQL stores (jsonb's text form), with no Connect schema envelope.
      expect(m.raw).toBe(stored.rows.find((s) => s.id === r.id)!.text);
      expect(m.value).toEqual(r.payload);
      expect(m.error).toBeUndefined();
    }
  });

  test('an idle outbox does not hold WAL: the slot follows unrelated writes', async () => {
    await db.query("insert into public.unrelated (filler) select repeat('x', 500) from generate_series(1, 5000)");
    const target = (await db.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0]!.lsn;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await db.query<{ behind: boolean }>(
        "select confirmed_flush_lsn < $1::pg_lsn as behind from pg_replication_slots where slot_name = 'checkout_outbox'",
        [target],
      );
      if (rows[0]?.behind === false) break;
      if (Date.now() > deadline) throw new Error(`slot still behind ${target} after 30 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  test('rows committed before the connector first started are not sent (no snapshot)', async () => {
    const marker = row();
    await insert(marker);
    await events.waitFor(allArrived(new Set([marker.id])));
    // Same partition, so anything earlier would have arrived before the marker.
    expect(events.messages.filter((m) => m.id === beforeStartId)).toEqual([]);
  });

  test('an event arrives within a second of the commit', async () => {
    const r = row();
    const committedAt = Date.now();
    await insert(r);
    const [m] = byId(await events.waitFor(allArrived(new Set([r.id])), 10_000), new Set([r.id]));
    expect(m!.receivedAt - committedAt).toBeLessThan(1000);
  });

  test('Kafka Connect killed with SIGKILL mid-stream: every event arrives after restart, duplicates only of seen ids', async () => {
    const rows: Row[] = [];
    const write = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const r = row();
        rows.push(r);
        await insert(r);
        // Unpublished WAL in between: with lsn.flush.mode=connector_and_driver the driver may
        // confirm it on keepalives, which must never skip an outbox row not yet in Kafka.
        await db.query("insert into public.unrelated (filler) select repeat('x', 200) from generate_series(1, 20)");
      }
    };
    const streaming = write(200);
    await events.waitFor(() => byId(events.messages, new Set(rows.map((r) => r.id))).length >= 20);
    await cdc.killConnect('SIGKILL');
    await streaming;
    await write(50); // committed while Connect is down: only the WAL has them
    await cdc.restartConnect();
    await write(10);

    const ids = new Set(rows.map((r) => r.id));
    await events.waitFor(allArrived(ids), 60_000);
    const received = byId(events.messages, ids);
    expect(new Set(received.map((m) => m.id))).toEqual(ids);
    // A duplicate is the same event again: same id, key and bytes as its first delivery.
    const first = new Map<string, CollectedMessage>();
    for (const m of received) {
      const earlier = first.get(m.id!);
      if (earlier) expect([m.key, m.raw]).toEqual([earlier.key, earlier.raw]);
      else first.set(m.id!, m);
    }
    // Per partition the order of first deliveries is the commit order.
    expect([...first.keys()]).toEqual(rows.map((r) => r.id));
    console.log(`SIGKILL test: ${rows.length} events, ${received.length - ids.size} duplicates re-delivered`);
  });
});
