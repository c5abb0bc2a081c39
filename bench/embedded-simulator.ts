// Checkout throughput with the Stripe simulator embedded as `npm start` runs it (in the service's
// process, its journal under DATA_DIR) against the simulator in a process of its own without a
// state file: the comparison of issue 11 (101/s against 252/s while the state file was rewritten
// on every POST). Same machine, same run, the two alternating; the embedded journal keeps growing
// from round to round (the service restarts on it, as npm start would). Webhooks are off in both,
// as in `npm run bench`: this measures the PaymentIntent path and its persistence.
//   node bench/embedded-simulator.ts [--requests 1500] [--concurrency 16] [--rounds 3]
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { startService } from '../src/server.ts';
import { createBenchDatabase, runLoad, type LoadResult } from './load.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '1500' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
const simulatorCli = new URL('../packages/stripe-simulator/src/cli.ts', import.meta.url).pathname;
const items = [{ sku: 'MILK-2L', quantity: 2 }, { sku: 'EGGS-12', quantity: 1 }, { sku: 'BANANAS-1KG', quantity: 3 }];

async function checkouts(env: Record<string, string>, before?: (service: Awaited<ReturnType<typeof startService>>) => void): Promise<LoadResult> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', DATABASE_POOL_SIZE: '20', JOBS_INTERVAL_SECONDS: '0', ...env });
  const service = await startService(config, pino({ level: 'silent' }));
  before?.(service);
  try {
    return await runLoad(requests, concurrency, async () => {
      const response = await fetch(`${service.url}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ customerId: 'bench', items }),
      });
      if (response.status !== 201) throw new Error(`checkout answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    });
  } finally {
    await service.close();
  }
}

/** `npm run stripe-simulator` without STRIPE_SIMULATOR_STATE_FILE, on a free port. */
async function startSimulatorProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [simulatorCli], { env: { PATH: process.env.PATH ?? '', STRIPE_SIMULATOR_PORT: '0', LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /listening on (http:\/\/\S+)/.exec(out);
      if (found) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`stripe simulator exited with ${code}`)));
  });
  child.stdout.resume();
  return {
    url,
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

const format = (r: LoadResult) => `${r.perSecond.toFixed(0)}/s (p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms)`;

const database = await createBenchDatabase();
const databaseUrl = database.serviceUrl;
const dataDir = await mkdtemp(join(tmpdir(), 'checkout-bench-embedded-'));
try {
  console.log(`${requests} checkouts a round, ${concurrency} at a time, PostgreSQL ${database.server}`);
  const embeddedRates: number[] = [];
  const externalRates: number[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    const embedded = () => checkouts({ DATA_DIR: dataDir, STRIPE_SIMULATOR_PORT: '0' }, (service) => service.simulator!.setWebhookUrl(undefined));
    const external = async () => {
      const simulator = await startSimulatorProcess();
      try {
        return await checkouts({ STRIPE_SECRET_KEY: 'sk_test_bench', STRIPE_WEBHOOK_SECRET: 'whsec_bench', STRIPE_API_URL: simulator.url });
      } finally {
        await simulator.stop();
      }
    };
    // Alternate which goes first, so that neither always meets a warmer database.
    const [first, second] = round % 2 === 1 ? [embedded, external] : [external, embedded];
    const a = await first();
    const b = await second();
    const [e, x] = round % 2 === 1 ? [a, b] : [b, a];
    embeddedRates.push(e.perSecond);
    externalRates.push(x.perSecond);
    const journal = (await stat(join(dataDir, 'stripe-simulator.jsonl'))).size / 2 ** 20;
    console.log(`round ${round}: embedded (journal ${journal.toFixed(1)} MiB after ${round * requests} PaymentIntents) ${format(e)}; own process, no state file ${format(x)}`);
  }
  const median = (values: number[]) => [...values].sort((p, q) => p - q)[Math.floor(values.length / 2)]!;
  const ratio = median(embeddedRates) / median(externalRates);
  console.log(`median: embedded ${median(embeddedRates).toFixed(0)}/s, own process ${median(externalRates).toFixed(0)}/s: embedded at ${(ratio * 100).toFixed(0)}% (goal >= 90%)`);
} finally {
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
