// The outbox stays bounded without ever losing an undelivered event: checkout.purge_outbox deletes a
// row only when it is older than the retention AND the replication slot has confirmed past the
// transaction that wrote it. A slot of this file's own stands in for Debezium's (slot names are
// cluster-wide; the CDC tests use checkout_outbox): advancing it is what Debezium's flushes do.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { sql } from 'slonik';
import { z } from 'zod';
import { purgeOldOutboxEvents } from '../../src/jobs/purge-outbox.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
const slotName = `retention_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.admin.query(sql.unsafe`
    select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ${slotName}`);
  await db?.drop();
});

const purgeResult = z.object({ deletedEvents: z.number(), deletedHeartbeats: z.number(), slotFound: z.boolean() }).passthrough();
const purge = (retention = '7 days') =>
  db.app.oneFirst(sql.type(z.object({ r: purgeResult }))`select checkout.purge_outbox(${retention}::interval, ${slotName}) as r`);
const status = () =>
  db.app.one(sql.type(z.object({
    slot_exists: z.boolean(), slot_active: z.boolean(), slot_lag_bytes: z.number().nullable(), oldest_event_age_seconds: z.number().nullable(),
  }))`select slot_exists, slot_active, slot_lag_bytes::float8, oldest_event_age_seconds from checkout.outbox_delivery_status(${slotName})`);

/** An outbox row as the triggers write it, made `ageDays` old. */
async function event(ageDays: number): Promise<string> {
  const id = randomUUID();
  await db.admin.query(sql.unsafe`
    insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload, created_at)
    values (${id}, 'Order', ${randomUUID()}, 'OrderConfirmed', '{}', now() - make_interval(days => ${ageDays}))`);
  return id;
}
const present = (ids: string[]) =>
  db.admin.anyFirst(sql.type(z.object({ id: z.string() }))`
    select id::text from checkout.outbox where id = any(${sql.array(ids, 'uuid')}) order by id`);
/**
 * What Debezium's confirmation of everything delivered so far does to its slot. A slot never passes
 * the flushed WAL (a walsender only sends what is flushed), so flush it first: the test server runs
 * with synchronous_commit off.
 */
async function advanceSlot(): Promise<void> {
  await db.admin.transaction(async (tx) => {
    await tx.query(sql.unsafe`set local synchronous_commit = on`);
    await tx.query(sql.unsafe`insert into checkout.cdc_heartbeat default values`);
  });
  await db.admin.query(sql.unsafe`select pg_replication_slot_advance(${slotName}, pg_current_wal_flush_lsn())`);
}

describe('checkout.purge_outbox', () => {
  it('deletes nothing while there is no replication slot', async () => {
    const old = await event(30);
    expect(await purge()).toMatchObject({ deletedEvents: 0, slotFound: false });
    expect(await present([old])).toEqual([old]);
    expect(await status()).toMatchObject({ slot_exists: false, slot_active: false, slot_lag_bytes: null });
  });

  it('deletes only rows that are old enough and that the slot has passed', async () => {
    await db.admin.query(sql.unsafe`select pg_create_logical_replication_slot(${slotName}, 'pgoutput')`);
    const oldBeforeSlot = await event(30);
    const young = await event(1);
    // The slot has not moved since these were written: nothing is deletable, however old.
    expect(await purge()).toMatchObject({ deletedEvents: 0, slotFound: true });
    expect((await status()).slot_lag_bytes).toBeGreaterThan(0);

    await advanceSlot();
    expect((await status()).slot_lag_bytes).toBeLessThan(1024);
    const oldAfterMark = await event(30); // written after the last mark: its transaction is unseen
    expect(await purge()).toMatchObject({ deletedEvents: expect.any(Number), slotFound: true });
    expect(await present([oldBeforeSlot, young, oldAfterMark])).toEqual([young, oldAfterMark].sort());

    await advanceSlot();
    await purge();
    expect(await present([young, oldAfterMark])).toEqual([young]);
  });

  it('a slot that is behind holds the old rows back until it confirms them', async () => {
    const old = await event(10);
    await purge(); // a mark the slot has not reached
    await db.admin.query(sql.unsafe`insert into checkout.cdc_heartbeat default values`);
    expect(await purge()).toMatchObject({ deletedEvents: 0 });
    expect(await present([old])).toEqual([old]);
    await advanceSlot();
    await purge();
    expect(await present([old])).toEqual([]);
  });

  it('keeps at least an hour, deletes heartbeats after an hour, and keeps its marks few', async () => {
    await expect(purge('10 minutes')).rejects.toMatchObject({ code: '22023' });
    await db.admin.query(sql.unsafe`insert into checkout.cdc_heartbeat (at) values (now() - interval '2 hours'), (now())`);
    expect(await purge()).toMatchObject({ deletedHeartbeats: 1 });
    await advanceSlot();
    await purge();
    await advanceSlot();
    await purge();
    expect(await db.admin.oneFirst(sql.unsafe`select count(*)::int from checkout.outbox_retention_marks`)).toBeLessThanOrEqual(2);
  });

  it('reports the age of the oldest row', async () => {
    await event(3);
    expect((await status()).oldest_event_age_seconds).toBeGreaterThanOrEqual(3 * 86_400);
  });
});

describe('the outbox retention job', () => {
  it('runs checkout.purge_outbox under its lock and says when there is no slot to trust', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const run = await purgeOldOutboxEvents({ pool: db.app, logger }, { retentionDays: 7 });
    expect(run).toEqual({ skipped: false, examined: expect.any(Number), outcomes: { deletedEvents: 0, deletedHeartbeats: expect.any(Number) } });
    expect(lines.join('')).toMatch(/no replication slot checkout_outbox/);
  });
});
