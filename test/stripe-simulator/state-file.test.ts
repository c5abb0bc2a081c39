import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStripeSimulator } from '../../src/stripe-simulator/server.ts';
import { stripeClientFor } from '../../src/stripe-simulator/testing.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('state file', () => {
  it('keeps PaymentIntents, charges and idempotency records across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stripe-sim-state-'));
    dirs.push(dir);
    const stateFile = join(dir, 'stripe-simulator.json');

    const first = await startStripeSimulator({ webhookSecret: 'whsec_state', stateFile });
    const stripe1 = stripeClientFor(first);
    const pi = await stripe1.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: 'kept' } }, { idempotencyKey: 'kept-1' });
    const paid = await stripe1.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    await first.close();
    expect(await readdir(dir)).toEqual(['stripe-simulator.json']);

    const second = await startStripeSimulator({ webhookSecret: 'whsec_state', stateFile });
    try {
      const stripe2 = stripeClientFor(second);
      const again = await stripe2.paymentIntents.retrieve(pi.id);
      expect(again).toMatchObject({ status: 'succeeded', amount_received: 1198, latest_charge: paid.latest_charge, metadata: { order_id: 'kept' } });
      const replay = await stripe2.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: 'kept' } }, { idempotencyKey: 'kept-1' });
      expect(replay.id).toBe(pi.id);
      expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
      const refund = await stripe2.refunds.create({ payment_intent: pi.id, amount: 198 });
      expect(refund.charge).toBe(paid.latest_charge);
      expect(second.webhooks.events.map((e) => e.type)).toEqual([
        'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.refunded', 'refund.created',
      ]);
    } finally {
      await second.close();
    }
  });

  it('refuses a state file in another format', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stripe-sim-state-'));
    dirs.push(dir);
    const stateFile = join(dir, 'bad.json');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stateFile, JSON.stringify({ hello: 'world' }));
    await expect(startStripeSimulator({ webhookSecret: 'whsec_state', stateFile })).rejects.toThrow('not in the expected format');
  });
});
