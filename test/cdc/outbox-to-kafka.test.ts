// Outbox rows → Debezium → Kafka, against a migrated test database and the real Kafka/Connect/
// Debezium of the local runner. The tenet's CDC half: every outbox row committed since the migrations
// ran reaches Kafka at least once, whenever the connector first runs and whatever happens to its slot.
// Skipped when KAFKA_BROKERS names an external Kafka: its Connect streams another database.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { SeenIds } from '../../src/events/event-message.ts';
import { collectEvents, startCdc, type CdcHandle, type CollectedMessage, type EventCollector, isTestDatabase } from '../support/cdc.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitUntil } from '../support/wait.ts';

// The first run on a fresh machine downloads the jars.
jest.setTimeout(300_000);

let db: TestDatabase;
let cdc: CdcHandle;
let events: EventCollector;
const beforeFirstStart: Row[] = [];

interface Row {
  id: string;
  orderId: string;
  type: 'OrderConfirmed' | 'OrderRefunded';
  payload: Record<string, unknown>;
}

function row(type: Row['type'] = 'OrderConfirmed', extra: Record<string, unknown> = {}): Row {
  const id = randomUUID();
  const orderId = randomUUID();
  return {
    id,
    orderId,
    type,
    payload: {
      eventId: id, eventType: type, schemaVersion: 1, occurredAt: new Date().toISOString(),
      orderId, customerId: 'c-123', currency: 'nzd', amountTotal: 1198,
      lines: [{ sku: 'MILK-2L', name: 'Milk 2 L — “trim”', quantity: 2, unitAmount: 599, lineTotal: 1198 }],
      payment: { provider: 'stripe', paymentIntentId: `pi_${id.slice(0, 8)}`, amountReceived: 1198 },
      ...extra,
    },
  };
}

/** Inserts rows in one transaction, as the order triggers do. */
async function insert(...rows: Row[]): Promise<void> {
  await db.admin.query(sql.unsafe`
    insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload)
    select id, 'Order', order_id, type, payload
      from ${sql.unnest(rows.map((r) => [r.id, r.orderId, r.type, JSON.stringify(r.payload)]), ['uuid', 'text', 'text', 'jsonb'])}
        as t(id, order_id, type, payload)`);
}

/** Unpublished WAL traffic, which the connector must skip and whose positions its slot must pass. */
const unrelatedWrites = (rows: number, width: number) =>
  db.admin.query(sql.unsafe`insert into public.unrelated (filler) select repeat('x', ${width}) from generate_series(1, ${rows})`);

const byId = (messages: CollectedMessage[], ids: Set<string>): CollectedMessage[] =>
  messages.filter((m) => m.id !== null && ids.has(m.id));
const idsOf = (rows: Row[]) => new Set(rows.map((r) => r.id));
const allArrived = (ids: Set<string>) => (messages: CollectedMessage[]) =>
  new Set(byId(messages, ids).map((m) => m.id)).size === ids.size;
const timesSeen = (id: string) => events.messages.filter((m) => m.id === id).length;

const slot = () =>
  db.admin.maybeOne(sql.type(z.object({ active: z.boolean(), confirmed: z.string().nullable() }))`
    select active, confirmed_flush_lsn::text as confirmed from pg_replication_slots where slot_name = 'checkout_outbox'`);

beforeAll(async () => {
  if (process.env.KAFKA_BROKERS) return;
  db = await createTestDatabase();
  await db.admin.query(sql.unsafe`create table public.unrelated (id bigserial primary key, filler text not null)`);
  // Committed before the connector ever ran (orders paid before `npm run cdc:up`, or before the
  // connector was registered): the first start must send them.
  beforeFirstStart.push(row(), row(), row('OrderRefunded', { confirmedEventId: randomUUID() }));
  await insert(beforeFirstStart[0]!, beforeFirstStart[1]!);
  await insert(beforeFirstStart[2]!);
  cdc = await startCdc({ databaseUrl: db.url, releaseSlotOf: isTestDatabase });
  events = await collectEvents(cdc);
});

afterAll(async () => {
  await events?.close();
  await cdc?.stop();
  await db?.drop();
});

const describeLocal = process.env.KAFKA_BROKERS ? describe.skip : describe;

describeLocal('outbox → Debezium → Kafka', () => {
  test('rows committed before the connector first ran arrive (the outbox is snapshotted when no offsets exist)', async () => {
    await events.waitFor(allArrived(idsOf(beforeFirstStart)));
    for (const r of beforeFirstStart) {
      const [m] = byId(events.messages, new Set([r.id]));
      expect(m).toMatchObject({ key: r.orderId, type: r.type, value: r.payload, topic: r.type === 'OrderConfirmed' ? cdc.topics.confirmed : cdc.topics.refunded });
      expect(m!.headerNames.sort()).toEqual(['id', 'type']);
    }
  });

  test('key, headers and value are exactly the outbox row, each type on its topic, in commit order', async () => {
    const rows = [row(), row('OrderRefunded', { confirmedEventId: randomUUID() }), row('OrderConfirmed', { note: 'a second transaction' })];
    await insert(rows[0]!, rows[1]!);
    await insert(rows[2]!);
    const ids = idsOf(rows);
    await events.waitFor(allArrived(ids));

    const stored = await db.admin.any(sql.type(z.object({ id: z.string(), text: z.string() }))`
      select id::text, payload::text as text from checkout.outbox where id = any(${sql.array([...ids], 'uuid')})`);
    const received = byId(events.messages, ids);
    for (const r of rows) {
      const m = received.find((x) => x.id === r.id)!;
      expect(m.topic).toBe(r.type === 'OrderConfirmed' ? cdc.topics.confirmed : cdc.topics.refunded);
      expect(m.key).toBe(r.orderId);
      expect(m.type).toBe(r.type);
      expect(m.headerNames.sort()).toEqual(['id', 'type']);
      // Byte for byte what PostgreSQL stores (jsonb's text form), with no Connect schema envelope.
      expect(m.raw).toBe(stored.find((s) => s.id === r.id)!.text);
      expect(m.value).toEqual(r.payload);
      expect(m.error).toBeUndefined();
    }
    const confirmedInOrder = received.filter((m) => m.topic === cdc.topics.confirmed).map((m) => m.id);
    expect(confirmedInOrder).toEqual([rows[0]!.id, rows[2]!.id]);
  });

  test('an idle outbox does not hold WAL: heartbeats move the slot past unrelated writes', async () => {
    await unrelatedWrites(5000, 500);
    const target = await db.admin.oneFirst(sql.type(z.object({ lsn: z.string() }))`select pg_current_wal_lsn()::text as lsn`);
    await waitUntil('the slot confirms past the unrelated writes', async () =>
      db.admin.oneFirst(sql.type(z.object({ done: z.boolean() }))`
        select coalesce(confirmed_flush_lsn >= ${target}::pg_lsn, false) as done from pg_replication_slots where slot_name = 'checkout_outbox'`), 60_000, 250);
  });

  test('Kafka Connect killed with SIGKILL mid-stream: every event arrives after restart, duplicates only of seen ids', async () => {
    const rows: Row[] = [];
    const write = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const r = row();
        rows.push(r);
        await insert(r);
        await unrelatedWrites(20, 200);
      }
    };
    const streaming = write(200);
    await events.waitFor(() => byId(events.messages, idsOf(rows)).length >= 20);
    await cdc.killConnect('SIGKILL');
    await streaming;
    await write(50); // committed while Connect is down: only the WAL has them
    await cdc.restartConnect();
    await write(10);

    const ids = idsOf(rows);
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
  });

  test.each([
    ['dropped', async () => {}],
    // What offset.mismatch.strategy=trust_greater_lsn once resumed from, skipping the rows between.
    ['dropped and created again by hand', async () => {
      await db.admin.query(sql.unsafe`select pg_create_logical_replication_slot('checkout_outbox', 'pgoutput')`);
    }],
  ])('the slot %s while Connect is down: every row committed meanwhile arrives, none is skipped', async (_what, recreate) => {
    const before = [row(), row()];
    await insert(...before);
    await events.waitFor(allArrived(idsOf(before)));
    await cdc.killConnect('SIGTERM');
    const unsent = [row()];
    await insert(unsent[0]!);
    await db.admin.query(sql.unsafe`select pg_drop_replication_slot('checkout_outbox')`);
    unsent.push(row(), row('OrderRefunded', { confirmedEventId: randomUUID() }));
    await insert(unsent[1]!, unsent[2]!);
    await recreate();
    unsent.push(row());
    await insert(unsent[3]!);

    await cdc.restartConnect();
    const after = [row()];
    await insert(after[0]!);
    await events.waitFor(allArrived(idsOf([...unsent, ...after])), 60_000);
    expect((await slot())?.active).toBe(true);
  });

  test('npm run cdc:redeliver sends a window of the outbox again with the original ids; the reference consumer takes each once', async () => {
    const old = [row()];
    await insert(old[0]!);
    await db.admin.query(sql.unsafe`update checkout.outbox set created_at = now() - interval '2 hours' where id = ${old[0]!.id}`);
    const since = new Date(Date.now() - 60 * 60 * 1000);
    const recent = [row(), row('OrderRefunded', { confirmedEventId: randomUUID() })];
    await insert(...recent);
    await events.waitFor(allArrived(idsOf([...old, ...recent])));
    const seenBefore = new Map([...old, ...recent].map((r) => [r.id, timesSeen(r.id)]));

    const output = await npmRun(['run', '-s', 'cdc:redeliver', '--', '--since', since.toISOString()]);
    expect(output).toMatch(/\d+ outbox event\(s\) created since/);
    await events.waitFor(() => recent.every((r) => timesSeen(r.id) === seenBefore.get(r.id)! + 1), 60_000);
    for (const r of recent) {
      const copies = events.messages.filter((m) => m.id === r.id);
      expect(new Set(copies.map((m) => m.raw)).size).toBe(1);
      expect(new Set(copies.map((m) => m.key))).toEqual(new Set([r.orderId]));
    }
    expect(timesSeen(old[0]!.id)).toBe(seenBefore.get(old[0]!.id)); // outside the window
    // What the SAP side does (src/events/tail-events.ts): de-duplicate on the id header.
    const seen = new SeenIds();
    const taken = events.messages.filter((m) => m.id !== null && seen.firstTime(m.id));
    expect(taken.filter((m) => idsOf(recent).has(m.id!))).toHaveLength(recent.length);
  });
});

/** `npm …` in this repository with the test database as DATABASE_URL (the schema owner here). */
async function npmRun(args: string[]): Promise<string> {
  const child = spawn('npm', args, {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`npm ${args.join(' ')} exited with ${code}:\n${output}`);
  return output;
}
