// `npm run bench`: the service against the database's own limit, side by side in one run, as ratios
// (issue 12). The service runs as `npm start` runs it, in its own process, with the Stripe simulator
// in another; autocannon drives HTTP from a third; pgbench runs the same SQL at the same concurrency.
// bench/README.md explains the method and the goals. Every loop is bounded: it stops by itself.
//   npm run bench [-- --connections 16 --duration 20 --sql-transactions 500 --soak 600 --cdc --cdc-seconds 30 --check --out bench/RESULTS.md]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBenchDatabase } from './bench-database.ts';
import { runCdcLeg, type CdcLeg } from './cdc-leg.ts';
import { measure, type CpuCounters, type Leg } from './measure.ts';
import { cpuMs, postgresCpuMs, startServiceProcess, startSimulatorProcess, type BenchProcess } from './processes.ts';
import { report } from './report.ts';
import { runSoak, type Soak } from './soak.ts';
import { runSqlLimit } from './sql-limit.ts';
import { freePort } from '../test/support/wait.ts';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '20' },
    'sql-transactions': { type: 'string', default: '500' },
    soak: { type: 'string', default: '0' },
    cdc: { type: 'boolean', default: false },
    'cdc-seconds': { type: 'string', default: '30' },
    check: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const connections = Number(args.connections);
const durationSeconds = Number(args.duration);
const sqlPerClient = Number(args['sql-transactions']);
const webhookSecret = 'whsec_bench';
const startedAt = new Date();

const database = await createBenchDatabase();
const dir = await mkdtemp(join(tmpdir(), 'checkout-bench-'));
const stops: Array<() => Promise<void>> = [];
try {
  const simulator = await startSimulatorProcess(dir);
  stops.push(simulator.stop);
  const serviceEnv = {
    DATABASE_URL: database.serviceUrl, STRIPE_SECRET_KEY: 'sk_test_bench', STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_URL: simulator.url,
  };
  const service = await startServiceProcess(serviceEnv, dir);
  stops.push(service.stop);
  const postmaster = database.postmasterPid;
  const others: CpuCounters = {
    simulator: () => cpuMs(simulator.pid),
    ...(postmaster !== undefined && { PostgreSQL: () => postgresCpuMs(postmaster) }),
  };
  const sql = async (...call: Parameters<typeof runSqlLimit>) => {
    const before = postmaster === undefined ? 0 : postgresCpuMs(postmaster);
    const result = await runSqlLimit(...call);
    return { ...result, postgresCpuMsPerTransaction: postmaster === undefined ? undefined : (postgresCpuMs(postmaster) - before) / result.transactions };
  };
  const orders = (name: string) => join(dir, `${name}.orders.json`);

  // Warm-up (JIT, connection pools, plan caches), not measured.
  await measure(service, { kind: 'checkout', connections, durationSeconds: 5, ordersOut: orders('warm-up') });
  await measure(service, { kind: 'webhook', connections, ordersIn: orders('warm-up'), webhookSecret, simulatorUrl: simulator.url });

  const eventObject = JSON.stringify({ object: 'payment_intent', currency: 'nzd', status: 'succeeded', cancellation_reason: null, last_payment_error: null });
  const sqlCheckout = await sql('checkout', database.serviceUrl, connections, sqlPerClient, eventObject);
  const checkout = await measure(service, { kind: 'checkout', connections, durationSeconds, ordersOut: orders('peak') }, others);
  const checkoutHalf = await measure(service, { kind: 'checkout', connections, durationSeconds, rate: Math.max(1, Math.round(checkout.perSecond / 2)), ordersOut: orders('half') }, others);
  const sqlWebhook = await sql('webhook', database.url, connections, sqlPerClient, eventObject);
  const webhook = await measure(service, { kind: 'webhook', connections, ordersIn: orders('peak'), webhookSecret, simulatorUrl: simulator.url }, others);
  const webhookHalf = await measure(service, { kind: 'webhook', connections, rate: Math.max(1, Math.round(webhook.perSecond / 2)), ordersIn: orders('half'), webhookSecret, simulatorUrl: simulator.url }, others);

  let soak: Soak | undefined;
  if (Number(args.soak) > 0) {
    soak = await runSoak(service, { seconds: Number(args.soak), connections, checkoutRate: checkoutHalf.requests / checkoutHalf.seconds, webhookRate: webhook.perSecond / 2, webhookSecret, simulatorUrl: simulator.url, dir });
  }
  await service.stop();
  stops.pop();

  const embedded = await embeddedSimulatorLeg(serviceEnv.DATABASE_URL, dir, connections, durationSeconds);

  let cdc: CdcLeg | undefined;
  if (args.cdc) cdc = await runCdcLeg(database.url, database.serviceUrl, { seconds: Number(args['cdc-seconds']), backlog: 20_000 });

  const { text, missed } = report({
    startedAt, database, connections, durationSeconds,
    checkout, checkoutHalf, sqlCheckout, webhook, webhookHalf, sqlWebhook, embedded, soak, cdc,
  });
  console.log(text);
  if (args.out) await writeFile(args.out, text);
  if (missed.length > 0) {
    console.log(`\ngoals missed: ${missed.join('; ')}`);
    if (args.check) process.exitCode = 1;
  }
} finally {
  for (const stop of stops.reverse()) await stop();
  await database.drop();
  await rm(dir, { recursive: true, force: true });
}

/**
 * POST /checkout with the simulator embedded as `npm start` runs it (in the service's process, its
 * journal under DATA_DIR), compared with the row above (simulator in its own process without a
 * state file). Its webhooks are switched off, as there: this measures the PaymentIntent path.
 */
async function embeddedSimulatorLeg(databaseUrl: string, dir: string, connections: number, durationSeconds: number): Promise<Leg> {
  const simulatorPort = await freePort();
  const service: BenchProcess = await startServiceProcess({ DATABASE_URL: databaseUrl, DATA_DIR: join(dir, 'embedded-data'), STRIPE_SIMULATOR_PORT: String(simulatorPort) }, dir, 'service-embedded-simulator');
  try {
    const control = await fetch(`http://127.0.0.1:${simulatorPort}/_simulator/webhooks/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: null }) });
    if (!control.ok) throw new Error(`the embedded simulator refused its webhook configuration: ${control.status}`);
    await measure(service, { kind: 'checkout', connections, durationSeconds: 5 });
    return await measure(service, { kind: 'checkout', connections, durationSeconds });
  } finally {
    await service.stop();
  }
}
