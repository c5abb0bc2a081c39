// record_unreadable_stripe_event (migrations/0030): a verified event the service cannot read is one
// bounded ledger row and one anomaly, keyed so that Stripe's redelivery is a duplicate.
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { recordUnreadableStripeEvent } from '../../src/db/record-unreadable-stripe-event.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createOrder, seedCatalog } from '../support/orders.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await seedCatalog(db);
});
afterAll(async () => db?.drop());

const record = (over: Partial<Parameters<typeof recordUnreadableStripeEvent>[1]> = {}) =>
  recordUnreadableStripeEvent(db.app, {
    id: null, type: null, paymentIntentId: null, orderId: null, reason: 'data.object: missing', body: Buffer.from('{"id":1}'), ...over,
  });

const ledger = (id: string) =>
  db.admin.maybeOne(sql.type(z.object({ type: z.string(), outcome: z.string(), order_id: z.string().nullable(), detail: z.any() }))`
    select type, outcome, order_id, detail from checkout.stripe_events where id = ${id}`);
const anomalies = (id: string) =>
  db.admin.any(sql.type(z.object({ kind: z.string(), order_id: z.string().nullable(), payment_intent_id: z.string().nullable(), detail: z.any() }))`
    select kind, order_id, payment_intent_id, detail from checkout.payment_anomalies where stripe_event_id = ${id}`);

describe('checkout.record_unreadable_stripe_event', () => {
  it('keys the event by its id when it has one: anomaly first, duplicate on redelivery', async () => {
    const id = `evt_${randomUUID().replaceAll('-', '')}`;
    expect(await record({ id, type: 'payment_intent.succeeded' })).toEqual({ outcome: 'anomaly', orderId: null, anomaly: 'unreadable_event' });
    expect(await record({ id, type: 'payment_intent.succeeded' })).toEqual({ outcome: 'duplicate', orderId: null });
    expect(await ledger(id)).toMatchObject({ type: 'payment_intent.succeeded', outcome: 'anomaly', detail: { reason: 'data.object: missing' } });
    expect(await anomalies(id)).toHaveLength(1);
  });

  it('keys an event without a usable id by the sha256 of its bytes, so the same bytes are a duplicate', async () => {
    const body = Buffer.from(`{"id":null,"nonce":"${randomUUID()}"}`);
    const digest = createHash('sha256').update(body).digest('hex');
    expect((await record({ body })).outcome).toBe('anomaly');
    expect((await record({ body })).outcome).toBe('duplicate');
    expect(await ledger(`sha256:${digest}`)).toMatchObject({ type: 'unreadable', outcome: 'anomaly' });
    // An id too long for the ledger's key is not used either (the edge never passes one; SQL holds anyway).
    expect((await record({ id: `evt_${'x'.repeat(10_000)}`, body })).outcome).toBe('duplicate');
  });

  it('bounds what it stores whatever the body holds: NUL, invalid UTF-8, 60 KB', async () => {
    const body = Buffer.concat([Buffer.from('{"id":"\\u0000'), Buffer.from([0x00, 0xff, 0xed, 0xa0, 0x80]), Buffer.alloc(60_000, 0x61)]);
    const { outcome } = await record({ body, reason: 'r'.repeat(5_000) });
    expect(outcome).toBe('anomaly');
    const digest = createHash('sha256').update(body).digest('hex');
    const [anomaly] = await anomalies(`sha256:${digest}`);
    expect(anomaly!.kind).toBe('unreadable_event');
    expect(anomaly!.detail).toMatchObject({ bodyBytes: body.length, bodySha256: digest });
    expect(anomaly!.detail.reason).toHaveLength(500);
    // 200 bytes, NUL and high bytes escaped as \ooo (at most 4 characters each).
    expect(anomaly!.detail.excerpt.startsWith('{"id":"\\\\u0000\\000\\377\\355\\240\\200aaa')).toBe(true);
    expect(anomaly!.detail.excerpt.length).toBeLessThanOrEqual(800);
  });

  it('links the order named by metadata.order_id, and ignores an id that names none', async () => {
    const { orderId } = await createOrder(db.app);
    const id = `evt_${randomUUID().replaceAll('-', '')}`;
    expect(await record({ id, orderId, paymentIntentId: 'pi_123' })).toMatchObject({ outcome: 'anomaly', orderId });
    expect(await anomalies(id)).toEqual([expect.objectContaining({ order_id: orderId, payment_intent_id: 'pi_123' })]);
    const unknown = `evt_${randomUUID().replaceAll('-', '')}`;
    expect(await record({ id: unknown, orderId: randomUUID() })).toMatchObject({ outcome: 'anomaly', orderId: null });
  });

  it('two concurrent deliveries of the same unreadable event: one anomaly, one duplicate', async () => {
    const id = `evt_${randomUUID().replaceAll('-', '')}`;
    const outcomes = (await Promise.all([record({ id }), record({ id })])).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['anomaly', 'duplicate']);
    expect(await anomalies(id)).toHaveLength(1);
  });
});
