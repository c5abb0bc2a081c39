// `--cdc`: commit → Kafka consumer latency of OrderConfirmed through the local Kafka + Connect +
// Debezium (debezium/), at 100, 250 and 500 confirmations/s after a warm-up; the warm-up itself
// (from Connect's start until p99 stays under the goal), with the default JVM and with the options
// bench/README.md discusses; and the drain rate of a backlog made while Connect was down.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { startConnect, stopConnect } from '../debezium/connect.ts';
import { loadSettings, type CdcSettings } from '../debezium/settings.ts';
import { down, up } from '../debezium/stack.ts';
import { requireCdcPrerequisites } from '../test/support/cdc-prerequisites.ts';
import { consumeConfirmations, createConfirmer, now, seedPendingOrders } from './cdc-confirmations.ts';
import { percentile } from './stats.ts';

export type CdcRate = { rate: number; achieved: number; p50: number; p99: number };
export type WarmUp = { rate: number; runningSeconds: number; underGoalSeconds: number | null };
export type CdcLeg = {
  rates: CdcRate[];
  warmUp: WarmUp;
  backlog: { events: number; runningSeconds: number; perSecond: number };
  jvmVariants: Array<WarmUp & { name: string; options: string; round: number }>;
};

const P99_GOAL_MS = 300;
const WINDOW_SECONDS = 1;
/** The warm-up is over when this many consecutive 1-second windows have p99 under the goal. */
const SETTLED_WINDOWS = 5;

export async function runCdcLeg(ownerUrl: string, serviceUrl: string, options: { seconds: number; backlog: number }): Promise<CdcLeg> {
  // Topics of the bench's own, deleted at the end: the tests' consumers read the real topics from
  // their beginning, and hundreds of thousands of bench events there would be theirs to wade through.
  const settings = loadSettings({
    ...process.env, DATABASE_URL: undefined, DATABASE_OWNER_URL: undefined,
    ORDER_CONFIRMED_TOPIC: 'checkout-bench.order-confirmed', ORDER_REFUNDED_TOPIC: 'checkout-bench.order-refunded',
  }, ownerUrl);
  requireCdcPrerequisites(settings);
  const log = (line: string) => console.error(`[cdc] ${line}`);
  const stack = await up(settings, log);
  const confirmer = createConfirmer(serviceUrl, 16);
  const consumer = await consumeConfirmations([`127.0.0.1:${settings.kafkaPort}`], settings.topics.confirmed);
  await sleep(1000); // the group's offsets are resolved to the topic's end once assigned
  try {
    const latencies = (ids: string[]) =>
      ids.map((id) => (consumer.arrivedAt.get(id) ?? Number.POSITIVE_INFINITY) - confirmer.committedAt.get(id)!).sort((a, b) => a - b);

    /** Connect stopped, then started with `settings` while 500/s are confirmed; when p99 settles under the goal. */
    const warmUp = async (s: CdcSettings): Promise<WarmUp> => {
      const rate = 500;
      await stopConnect(s);
      const orders = await seedPendingOrders(ownerUrl, rate * 60);
      const started = now();
      let runningAt = Number.NaN;
      const connect = startConnect(s, log).then(() => void (runningAt = now()));
      let settledAt: number | null = null;
      const windowStats = () => {
        // Windows by commit time, each complete only once every event committed in it has arrived.
        const windows: number[][] = [];
        for (const order of orders) {
          const committed = confirmer.committedAt.get(order.id);
          if (committed === undefined) break;
          (windows[Math.floor((committed - started) / 1000 / WINDOW_SECONDS)] ??= []).push((consumer.arrivedAt.get(order.id) ?? Number.NaN) - committed);
        }
        let run = 0;
        for (let w = 0; w < windows.length; w++) {
          const values = windows[w] ?? [];
          if (values.length === 0 || values.some(Number.isNaN)) return; // not complete yet
          run = percentile(values.sort((a, b) => a - b), 0.99) <= P99_GOAL_MS ? run + 1 : 0;
          if (run === SETTLED_WINDOWS) {
            settledAt = started + (w - SETTLED_WINDOWS + 1) * WINDOW_SECONDS * 1000;
            return;
          }
        }
      };
      let lastLook = 0;
      await confirmer.atRate(orders, rate, () => {
        if (now() - lastLook > 500) {
          lastLook = now();
          windowStats();
        }
        return settledAt !== null;
      });
      await connect;
      // The next leg starts once every event of this one has arrived. On a slow machine Connect was
      // still draining them when the confirmations ended (2026-12-07: RUNNING after 44-60 s), and
      // the 100/s leg after it measured that drain (p99 19.9 s), each JVM variant its predecessor's.
      const confirmed = orders.filter((o) => confirmer.committedAt.has(o.id)).map((o) => o.id);
      if (!(await consumer.waitFor(confirmed, 300_000))) throw new Error(`the warm-up's ${confirmed.length} events did not all reach Kafka within 300 s`);
      return { rate, runningSeconds: (runningAt - started) / 1000, underGoalSeconds: settledAt === null ? null : (settledAt - started) / 1000 };
    };

    log('warm-up, default JVM options');
    const defaultWarmUp = await warmUp(settings);

    const rates: CdcRate[] = [];
    for (const rate of [100, 250, 500]) {
      log(`${rate} confirmations/s for ${options.seconds} s`);
      const orders = await seedPendingOrders(ownerUrl, rate * options.seconds);
      const { perSecond } = await confirmer.atRate(orders, rate);
      await consumer.waitFor(orders.map((o) => o.id), 60_000);
      const sorted = latencies(orders.map((o) => o.id));
      rates.push({ rate, achieved: perSecond, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) });
    }

    log(`a backlog of ${options.backlog} confirmations while Connect is down`);
    await stopConnect(settings);
    const backlogOrders = await seedPendingOrders(ownerUrl, options.backlog);
    await confirmer.all(backlogOrders);
    const restarted = now();
    await startConnect(settings, log);
    const runningAt = now();
    const drained = await consumer.waitFor(backlogOrders.map((o) => o.id), 300_000);
    const lastArrival = Math.max(...backlogOrders.map((o) => consumer.arrivedAt.get(o.id) ?? Number.POSITIVE_INFINITY));
    const backlog = {
      events: options.backlog,
      runningSeconds: (runningAt - restarted) / 1000,
      perSecond: drained ? options.backlog / ((lastArrival - runningAt) / 1000) : 0,
    };

    // Each variant twice, the default among them, alternating: one warm-up on a shared machine is noisy.
    const jvmVariants: CdcLeg['jvmVariants'] = [];
    for (let round = 1; round <= 2; round++) {
      for (const variant of jvmOptionVariants(settings, round === 1)) {
        if (variant.train) {
          log(`${variant.name}: a training run writes the archive`);
          await warmUp({ ...settings, connectJvmOptions: variant.train });
          await stopConnect(settings);
        }
        log(`warm-up with ${variant.name}, round ${round}`);
        const measured = await warmUp({ ...settings, connectJvmOptions: variant.options });
        jvmVariants.push({ name: variant.name, options: variant.options.join(' ').replaceAll(settings.stateDir, '$CDC_STATE_DIR'), round, ...measured });
      }
    }
    return { rates, warmUp: defaultWarmUp, backlog, jvmVariants };
  } finally {
    await consumer.close();
    await confirmer.end();
    // Connect streams to the bench's topics (up() restarted any other): stopped either way.
    await stopConnect(settings);
    await deleteTopics(settings);
    if (stack.startedKafka) await down(settings, log);
    await dropSlot(ownerUrl);
  }
}

/**
 * The JVM options measured against the default (Java 17; bench/README.md): C1 only, a GC for small
 * heaps, and an AppCDS archive of Connect's classes (JEP 350's dynamic archive, written at the exit
 * of a training run, then mapped at start); `train` only the first time.
 */
function jvmOptionVariants(s: CdcSettings, train: boolean): Array<{ name: string; options: string[]; train?: string[] }> {
  const archive = join(s.stateDir, 'connect-appcds.jsa');
  if (train) rmSync(archive, { force: true });
  return [
    { name: 'default', options: [] },
    { name: 'C1 only', options: ['-XX:TieredStopAtLevel=1'] },
    { name: 'Serial GC', options: ['-XX:+UseSerialGC'] },
    { name: 'AppCDS', options: [`-XX:SharedArchiveFile=${archive}`], ...(train && { train: [`-XX:ArchiveClassesAtExit=${archive}`] }) },
    { name: 'AppCDS + C1 only + Serial GC', options: [`-XX:SharedArchiveFile=${archive}`, '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'] },
  ];
}

async function deleteTopics(s: CdcSettings): Promise<void> {
  const admin = new kafkajs.Kafka({ clientId: 'checkout-bench', brokers: [`127.0.0.1:${s.kafkaPort}`], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(s.topics) });
  } finally {
    await admin.disconnect();
  }
}

/** Debezium's slot would keep the database from being dropped (and keep its WAL). */
async function dropSlot(ownerUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = current_database() and not active`);
  } finally {
    await client.end();
  }
}
