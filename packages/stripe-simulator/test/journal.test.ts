import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStripeSimulator, type StripeSimulator } from '../src/server.ts';
import { stripeClientFor } from '../src/testing.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function journalPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stripe-sim-journal-'));
  dirs.push(dir);
  return join(dir, 'stripe-simulator.jsonl');
}

async function withSimulator<T>(stateFile: string, use: (sim: StripeSimulator) => Promise<T>): Promise<T> {
  const sim = await startStripeSimulator({ webhookSecret: 'whsec_journal', stateFile });
  try {
    return await use(sim);
  } finally {
    await sim.close();
  }
}

const size = async (path: string) => (await stat(path)).size;

/** The CLI in a process of its own on `stateFile`, once it listens; its output (stdout and stderr) kept for a failure's message. */
async function startCli(stateFile: string, nodeOptions: string[] = []) {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const child = spawn(process.execPath, [...nodeOptions, cli], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', STRIPE_SIMULATOR_PORT: '0', STRIPE_SIMULATOR_STATE_FILE: stateFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => { if (/listening on/.test(output)) resolve(); });
      child.once('exit', () => reject(new Error(`simulator exited: ${output.slice(-2000)}`)));
    });
  } catch (error) {
    kill();
    throw error;
  }
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]);
  return { stripe: stripeClientFor({ host: '127.0.0.1', port }), kill, exited };
}

describe('the journal (stateFile)', () => {
  it('keeps PaymentIntents, charges, refunds, events, idempotency keys and the clock across a restart', async () => {
    const stateFile = await journalPath();
    const { pi, paid } = await withSimulator(stateFile, async (sim) => {
      const stripe = stripeClientFor(sim);
      const created = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: 'kept' } }, { idempotencyKey: 'kept-1' });
      const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
      sim.advanceClock(3600);
      return { pi: created, paid: confirmed };
    });
    expect(await readdir(join(stateFile, '..'))).toEqual(['stripe-simulator.jsonl']);

    await withSimulator(stateFile, async (sim) => {
      const stripe = stripeClientFor(sim);
      expect(await stripe.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'succeeded', amount_received: 1198, latest_charge: paid.latest_charge, metadata: { order_id: 'kept' } });
      const replay = await stripe.paymentIntents.create({ amount: 1198, currency: 'nzd', metadata: { order_id: 'kept' } }, { idempotencyKey: 'kept-1' });
      expect(replay.id).toBe(pi.id);
      expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.clock.offsetMs).toBe(3600 * 1000);
      const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 198 });
      expect(refund.charge).toBe(paid.latest_charge);
      expect(sim.webhooks.events.map((e) => e.type)).toEqual([
        'payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded', 'charge.refunded', 'refund.created',
      ]);
    });
  });

  it('appends about the same few kilobytes per request however large the state is (O(1) per write)', async () => {
    const stateFile = await journalPath();
    await withSimulator(stateFile, async (sim) => {
      const stripe = stripeClientFor(sim);
      const appended = async (i: number) => {
        const before = await size(stateFile);
        await stripe.paymentIntents.create({ amount: 1000, currency: 'nzd', metadata: { order_id: `order-${String(i).padStart(4, '0')}` } }, { idempotencyKey: `key-${String(i).padStart(4, '0')}` });
        return (await size(stateFile)) - before;
      };
      const first = await appended(0);
      for (let i = 1; i < 200; i += 1) await appended(i);
      const later = await appended(200);
      expect(first).toBeGreaterThan(0);
      expect(Math.abs(later - first)).toBeLessThan(first * 0.05);
    });
  });

  it('compacts on start: many changes of one PaymentIntent shrink to its last state', async () => {
    const stateFile = await journalPath();
    const id = await withSimulator(stateFile, async (sim) => {
      const stripe = stripeClientFor(sim);
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'nzd' });
      for (let i = 0; i < 30; i += 1) await stripe.paymentIntents.update(pi.id, { metadata: { step: String(i) } });
      return pi.id;
    });
    const grown = await size(stateFile);
    const copiesOfIt = async () => (await readFile(stateFile, 'utf8')).split('\n').filter((line) => line.startsWith('{"paymentIntents"')).length;
    expect(await copiesOfIt()).toBe(31);
    await withSimulator(stateFile, async (sim) => {
      // The 30 events (each with the PaymentIntent as it was) and the SDK's idempotency keys stay.
      expect(await copiesOfIt()).toBe(1);
      expect(await size(stateFile)).toBeLessThan(grown * 0.8);
      expect(sim.getPaymentIntent(id)?.metadata).toEqual({ step: '29' });
      expect(sim.webhooks.events.filter((e) => e.type === 'payment_intent.updated')).toHaveLength(30);
    });
  });

  it('tolerates a torn last line (a kill mid-write) and keeps everything before it', async () => {
    const stateFile = await journalPath();
    const kept = await withSimulator(stateFile, async (sim) => (await stripeClientFor(sim).paymentIntents.create({ amount: 1000, currency: 'nzd' })).id);
    const lines = (await readFile(stateFile, 'utf8')).trimEnd().split('\n');
    await appendFile(stateFile, lines.at(-1)!.slice(0, 40));
    await withSimulator(stateFile, async (sim) => {
      expect(sim.getPaymentIntent(kept)?.id).toBe(kept);
      expect(await stripeClientFor(sim).paymentIntents.create({ amount: 700, currency: 'nzd' })).toMatchObject({ amount: 700 });
    });
    // Compaction rewrote the file whole: every line is complete JSON again.
    const text = await readFile(stateFile, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trimEnd().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('loses nothing answered when the simulator process is SIGKILLed', async () => {
    const stateFile = await journalPath();
    const { stripe, kill, exited } = await startCli(stateFile);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i += 1) {
        const pi = await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'nzd', metadata: { n: String(i) } });
        ids.push((await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' })).id);
      }
      kill();
      await exited;
      await withSimulator(stateFile, async (sim) => {
        expect(ids.map((id) => sim.getPaymentIntent(id)?.status)).toEqual(ids.map(() => 'succeeded'));
      });
    } finally {
      kill();
    }
  });

  it('reads the whole-state file of earlier versions once, then keeps a journal', async () => {
    const stateFile = await journalPath();
    const pi = await withSimulator(join(stateFile, '..', 'scratch.jsonl'), async (sim) => {
      await stripeClientFor(sim).paymentIntents.create({ amount: 1234, currency: 'nzd', metadata: { order_id: 'from-v1' } });
      return sim.listPaymentIntents()[0]!;
    });
    const v1 = { store: { version: 1, paymentIntents: [pi], charges: [], refunds: [], paymentMethods: [], paymentMethodSources: {}, events: [] }, idempotency: [] };
    await writeFile(stateFile, JSON.stringify(v1));
    await withSimulator(stateFile, async (sim) => {
      expect(sim.getPaymentIntent(pi.id)).toMatchObject({ amount: 1234, metadata: { order_id: 'from-v1' } });
    });
    expect(JSON.parse((await readFile(stateFile, 'utf8')).split('\n')[0]!)).toEqual({ journal: 'stripe-simulator', version: 2 });
  });

  it('reads a journal of many chunks, characters split between chunks included, and a torn tail after them', async () => {
    const stateFile = await journalPath();
    const ids = await withSimulator(stateFile, async (sim) => {
      const stripe = stripeClientFor(sim);
      const created: string[] = [];
      // Each PaymentIntent's line holds ~1 KB of three-byte characters: 1,500 of them span two
      // 1 MiB chunks, and some character's bytes fall on both sides of a chunk's end.
      for (let i = 0; i < 1500; i += 1) {
        const pi = await stripe.paymentIntents.create({ amount: 1000 + i, currency: 'nzd', description: `€${'ü€'.repeat(170)}${i}` });
        created.push(pi.id);
      }
      return created;
    });
    expect(await size(stateFile)).toBeGreaterThan(2 ** 21);
    const lines = (await readFile(stateFile, 'utf8')).trimEnd().split('\n');
    await appendFile(stateFile, lines.at(-1)!.slice(0, 100));
    await withSimulator(stateFile, async (sim) => {
      expect(sim.listPaymentIntents()).toHaveLength(1500);
      for (const [i, id] of ids.entries()) expect(sim.getPaymentIntent(id)?.description).toBe(`€${'ü€'.repeat(170)}${i}`);
    });
  });

  it('starts from a journal of 70 MB in a heap capped at 128 MiB: read a chunk at a time, not whole', async () => {
    const seedFile = await journalPath();
    const seed = await withSimulator(seedFile, async (sim) => {
      const pi = await stripeClientFor(sim).paymentIntents.create({ amount: 1000, currency: 'nzd', metadata: { order_id: 'seed' } }, { idempotencyKey: 'seed-key' });
      return { pi: pi.id, event: sim.webhooks.events[0]!.id };
    });
    const [header, change] = (await readFile(seedFile, 'utf8')).trimEnd().split('\n');
    // Copies of one creation's line, each with ids of its own (~5 KB a line, as npm start's journal).
    const stateFile = await journalPath();
    const copies = Math.ceil(70e6 / change!.length);
    const copy = (i: number) => change!.replaceAll(seed.pi, `${seed.pi}${i}`).replaceAll(seed.event, `${seed.event}${i}`).replaceAll('seed-key', `seed-key-${i}`);
    const lines = [header!];
    for (let i = 0; i < copies; i += 1) lines.push(copy(i));
    await writeFile(stateFile, `${lines.join('\n')}\n`);
    lines.length = 0;
    expect(await size(stateFile)).toBeGreaterThan(70e6);

    // Read whole, the file's text (70 MB) and the state made from it (as much again) did not fit.
    const { stripe, kill } = await startCli(stateFile, ['--max-old-space-size=128']);
    try {
      const last = copies - 1;
      expect(await stripe.paymentIntents.retrieve(`${seed.pi}${last}`)).toMatchObject({ id: `${seed.pi}${last}`, amount: 1000 });
    } finally {
      kill();
    }
  }, 60_000);

  it('refuses a file that is not a journal, and a journal damaged in the middle', async () => {
    const stateFile = await journalPath();
    await writeFile(stateFile, JSON.stringify({ hello: 'world' }));
    await expect(startStripeSimulator({ webhookSecret: 'whsec_journal', stateFile })).rejects.toThrow('not in the expected format');
    await writeFile(stateFile, `${JSON.stringify({ journal: 'stripe-simulator', version: 2 })}\n{"paymentIntents":[\n{}\n`);
    await expect(startStripeSimulator({ webhookSecret: 'whsec_journal', stateFile })).rejects.toThrow('line 2 is not JSON');
  });
});
