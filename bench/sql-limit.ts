// The database's own limit: the SQL calls the service makes for a request, at the same concurrency,
// with nothing in between. pgbench when installed (-M prepared: parsed and planned once per client,
// the cheapest way a client can call them), else a Node driver with one prepared statement per
// client (node-postgres named statements), reported as such. With a rate: the same calls at that
// rate in all, open loop (each transaction due at its slot, its latency counted from then), the
// peer of the half-peak HTTP legs' latency. pgbench's slots follow a Poisson process (its docs,
// --rate), so its transactions come in random clumps: against the HTTP legs' even spacing that can
// only lengthen its tail. The Node driver spaces them evenly.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { percentile } from './stats.ts';

export type SqlLimitResult = { driver: string; transactions: number; seconds: number; perSecond: number; p50: number; p95: number; p99: number };

/**
 * At a rate, the percentiles leave out the transactions due in the first second: each new
 * connection's backend compiles the PL/pgSQL functions and plans the statements at its first call
 * (p99 80 ms in that second, 6–9 ms in the next ones; bench/README.md), where the service's pool,
 * which the HTTP legs are compared with, is warm.
 */
export const RATE_WARM_UP_MS = 1000;

/** The service's basket (bench/http-load-process.ts), as create_order receives it. */
const basket = JSON.stringify([{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }, { sku: 'BANANAS-1KG', quantity: 3 }]);
/** The checkout lease the service asks for with its default STRIPE_TIMEOUT_MS. */
const leaseSeconds = 37;

/**
 * POST /checkout's two calls, each its own transaction as the service makes them (src/checkout/
 * start-checkout.ts, without the Stripe call between them), as checkout_app. The idempotency key
 * of client c's n-th order in run r is r-c-n, so that the webhook script of run r finds it.
 */
const checkoutStatements = [
  `select r->'order'->>'orderId' as order_id, r->>'checkoutToken' as token
     from checkout.create_order($3::text || '-' || $1::text || '-' || $2::text, 'bench', 'nzd', '${basket}'::jsonb, make_interval(secs => ${leaseSeconds})) as r`,
  `select checkout.attach_payment_intent($1::uuid, 'pi_sql_' || replace($1::text, '-', ''), $2::uuid)`,
];

/**
 * POST /webhooks/stripe's call: apply_stripe_event with a payment_intent.succeeded for the order
 * made by the checkout script under the same (client, n). Finding the order costs one unique-index
 * lookup more than the service pays (it has the ids in the event); that lookup needs the owner's
 * login, as checkout_app may read no table. `$3` is the event's object as the service passes it, `$4`
 * the run whose orders it confirms.
 */
const webhookStatement = `select checkout.apply_stripe_event('evt_sql_' || replace(o.id::text, '-', ''), 'payment_intent.succeeded',
    $3::jsonb || jsonb_build_object('id', o.payment_intent_id, 'amount', o.amount_total, 'amount_received', o.amount_total,
                                    'metadata', jsonb_build_object('order_id', o.id)), 'stripe_webhook')
   from checkout.orders o where o.idempotency_key = $4::text || '-' || $1::text || '-' || $2::text`;

/** The pgbench form of the statements above: $1 the client id, $2 its transaction counter n. */
function pgbenchScript(kind: 'checkout' | 'webhook'): string {
  const vars = (sql: string) => sql.replaceAll('$1::text', ':client_id::text').replaceAll('$2::text', ':n::text');
  if (kind === 'webhook') return `\\set n :n + 1\n${vars(webhookStatement).replaceAll('$3', ':object').replaceAll('$4', ':run').replace(/\s+/g, ' ')};\n`;
  return [
    '\\set n :n + 1',
    `${vars(checkoutStatements[0]!).replaceAll('$3', ':run').replace(/\s+/g, ' ')} \\gset`,
    `${checkoutStatements[1]!.replaceAll('$1', ':order_id').replaceAll('$2', ':token')};`,
    '',
  ].join('\n');
}

export function pgbenchAvailable(): boolean {
  // The PATH of process.env as this module sees it: under Jest that is the test's, which may hide pgbench.
  return spawnSync('pgbench', ['--version'], { env: process.env }).status === 0;
}

/**
 * `transactionsPerClient` checkouts of run `run` (or webhooks, for the orders its checkouts made) on
 * `clients` connections to `url`; `eventObject` is the PaymentIntent the webhook events carry;
 * `ratePerSecond`, when given, paces all the clients' transactions at that rate in all (pgbench
 * as a Poisson process, the Node driver evenly).
 */
export async function runSqlLimit(
  kind: 'checkout' | 'webhook', run: string, url: string, clients: number, transactionsPerClient: number, eventObject: string, ratePerSecond?: number,
): Promise<SqlLimitResult> {
  if (ratePerSecond !== undefined && !(ratePerSecond > 0)) throw new Error(`a SQL rate must be positive, got ${ratePerSecond}`);
  const call = { kind, run, url, clients, perClient: transactionsPerClient, eventObject, ratePerSecond };
  return pgbenchAvailable() ? pgbench(call) : nodeDriver(call);
}

type SqlCall = { kind: 'checkout' | 'webhook'; run: string; url: string; clients: number; perClient: number; eventObject: string; ratePerSecond: number | undefined };

/** A transaction's latency, and when it was due (ms from the first one due). */
type Timed = { dueMs: number; latencyMs: number };

async function pgbench({ kind, run, url, clients, perClient, eventObject, ratePerSecond }: SqlCall): Promise<SqlLimitResult> {
  const dir = await mkdtemp(join(tmpdir(), 'checkout-bench-pgbench-'));
  try {
    const script = join(dir, `${kind}.sql`);
    await writeFile(script, pgbenchScript(kind));
    const { stdout } = await promisify(execFile)('pgbench', [
      '-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-t', String(perClient), '-f', script,
      ...(ratePerSecond === undefined ? [] : ['--rate', String(ratePerSecond)]),
      '-D', 'n=0', '-D', `run=${run}`, '-D', `object=${eventObject}`, '-l', `--log-prefix=${join(dir, 'tx')}`, url,
    ], { maxBuffer: 16 * 2 ** 20 });
    const failed = /number of failed transactions: (\d+)/.exec(stdout);
    if (failed && Number(failed[1]) > 0) throw new Error(`pgbench ${kind}: ${failed[1]} failed transactions\n${stdout}`);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    if (!tps) throw new Error(`pgbench ${kind}: no tps in its output\n${stdout}`);
    // Per-transaction log (pgbench docs, "Per-Transaction Logging"): the third column is the time
    // in µs (with --rate counted from the scheduled start, as pgbench's latency average is), the
    // fifth and sixth when it ended.
    const timed: Timed[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.startsWith('tx.'))) {
      for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
        const fields = line.split(' ').map(Number);
        if (fields.length < 6) continue;
        const latencyMs = fields[2]! / 1000;
        timed.push({ dueMs: fields[4]! * 1000 + fields[5]! / 1000 - latencyMs, latencyMs });
      }
    }
    const transactions = clients * perClient;
    const perSecond = Number(tps[1]);
    const driver = ratePerSecond === undefined ? 'pgbench -M prepared' : `pgbench -M prepared --rate ${ratePerSecond}`;
    return { driver, transactions, seconds: transactions / perSecond, perSecond, ...quantiles(timed, ratePerSecond) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** p50/p95/p99; at a rate, of the transactions due after RATE_WARM_UP_MS. */
function quantiles(timed: Timed[], ratePerSecond: number | undefined): { p50: number; p95: number; p99: number } {
  const first = Math.min(...timed.map((t) => t.dueMs));
  const counted = ratePerSecond === undefined ? timed : timed.filter((t) => t.dueMs - first >= RATE_WARM_UP_MS);
  const sorted = counted.map((t) => t.latencyMs).sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) };
}

/** Without pgbench: one connection and one named (prepared) statement per call per client. */
async function nodeDriver({ kind, run, url, clients, perClient, eventObject, ratePerSecond }: SqlCall): Promise<SqlLimitResult> {
  const connections = await Promise.all(Array.from({ length: clients }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  const timed: Timed[] = [];
  const started = performance.now();
  // At a rate, transaction i of all the clients' is due at started + i / rate; a client takes the
  // next one due when it is free, and its latency counts from when it was due, as pgbench's does.
  let slot = 0;
  const due = async (): Promise<number> => {
    if (ratePerSecond === undefined) return performance.now();
    const at = started + (slot++ * 1000) / ratePerSecond;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return at;
  };
  try {
    await Promise.all(connections.map(async (client, c) => {
      for (let n = 1; n <= perClient; n++) {
        const t0 = await due();
        if (kind === 'webhook') {
          await client.query({ name: 'webhook', text: webhookStatement, values: [c, n, eventObject, run] });
        } else {
          const { rows } = await client.query<{ order_id: string; token: string }>({ name: 'create', text: checkoutStatements[0]!, values: [c, n, run] });
          await client.query({ name: 'attach', text: checkoutStatements[1]!, values: [rows[0]!.order_id, rows[0]!.token] });
        }
        timed.push({ dueMs: t0 - started, latencyMs: performance.now() - t0 });
      }
    }));
  } finally {
    await Promise.all(connections.map((client) => client.end()));
  }
  const seconds = (performance.now() - started) / 1000;
  const driver = `node-postgres, a prepared statement per client${ratePerSecond === undefined ? '' : `, at ${ratePerSecond}/s`} (no pgbench)`;
  return { driver, transactions: timed.length, seconds, perSecond: timed.length / seconds, ...quantiles(timed, ratePerSecond) };
}
