// The database's own limit: the SQL calls the service makes for a request, at the same concurrency,
// with nothing in between. pgbench when installed (-M prepared: parsed and planned once per client,
// the cheapest way a client can call them), else a Node driver with one prepared statement per
// client (node-postgres named statements), reported as such.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { percentile } from './stats.ts';

export type SqlLimitResult = { driver: string; transactions: number; seconds: number; perSecond: number; p50: number; p95: number; p99: number };

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
  return spawnSync('pgbench', ['--version']).status === 0;
}

/**
 * `transactionsPerClient` checkouts of run `run` (or webhooks, for the orders its checkouts made) on
 * `clients` connections to `url`; `eventObject` is the PaymentIntent the webhook events carry.
 */
export async function runSqlLimit(
  kind: 'checkout' | 'webhook', run: string, url: string, clients: number, transactionsPerClient: number, eventObject: string,
): Promise<SqlLimitResult> {
  return pgbenchAvailable()
    ? pgbench(kind, run, url, clients, transactionsPerClient, eventObject)
    : nodeDriver(kind, run, url, clients, transactionsPerClient, eventObject);
}

async function pgbench(kind: 'checkout' | 'webhook', run: string, url: string, clients: number, perClient: number, eventObject: string): Promise<SqlLimitResult> {
  const dir = await mkdtemp(join(tmpdir(), 'checkout-bench-pgbench-'));
  try {
    const script = join(dir, `${kind}.sql`);
    await writeFile(script, pgbenchScript(kind));
    const { stdout } = await promisify(execFile)('pgbench', [
      '-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-t', String(perClient), '-f', script,
      '-D', 'n=0', '-D', `run=${run}`, '-D', `object=${eventObject}`, '-l', `--log-prefix=${join(dir, 'tx')}`, url,
    ], { maxBuffer: 16 * 2 ** 20 });
    const failed = /number of failed transactions: (\d+)/.exec(stdout);
    if (failed && Number(failed[1]) > 0) throw new Error(`pgbench ${kind}: ${failed[1]} failed transactions\n${stdout}`);
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    if (!tps) throw new Error(`pgbench ${kind}: no tps in its output\n${stdout}`);
    // Per-transaction log (pgbench docs, "Per-Transaction Logging"): the third column is the time in µs.
    const latencies: number[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.startsWith('tx.'))) {
      for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
        const fields = line.split(' ');
        if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    const transactions = clients * perClient;
    const perSecond = Number(tps[1]);
    return { driver: 'pgbench -M prepared', transactions, seconds: transactions / perSecond, perSecond, ...quantiles(latencies) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const quantiles = (sorted: number[]) => ({ p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99) });

/** Without pgbench: one connection and one named (prepared) statement per call per client. */
async function nodeDriver(kind: 'checkout' | 'webhook', run: string, url: string, clients: number, perClient: number, eventObject: string): Promise<SqlLimitResult> {
  const connections = await Promise.all(Array.from({ length: clients }, async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  const latencies: number[] = [];
  const started = performance.now();
  try {
    await Promise.all(connections.map(async (client, c) => {
      for (let n = 1; n <= perClient; n++) {
        const t0 = performance.now();
        if (kind === 'webhook') {
          await client.query({ name: 'webhook', text: webhookStatement, values: [c, n, eventObject, run] });
        } else {
          const { rows } = await client.query<{ order_id: string; token: string }>({ name: 'create', text: checkoutStatements[0]!, values: [c, n, run] });
          await client.query({ name: 'attach', text: checkoutStatements[1]!, values: [rows[0]!.order_id, rows[0]!.token] });
        }
        latencies.push(performance.now() - t0);
      }
    }));
  } finally {
    await Promise.all(connections.map((client) => client.end()));
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { driver: 'node-postgres, a prepared statement per client (no pgbench)', transactions: latencies.length, seconds, perSecond: latencies.length / seconds, ...quantiles(latencies) };
}
