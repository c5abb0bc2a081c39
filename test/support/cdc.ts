// CDC for tests: Kafka + Kafka Connect + Debezium streaming checkout.outbox of `databaseUrl`.
//
//   const cdc = await startCdc({ databaseUrl });
//   const events = await collectEvents(cdc);          // a consumer of both topics from the start
//   ... commit things that write outbox rows ...
//   await events.waitFor((all) => all.some((m) => m.key === orderId));
//   await cdc.killConnect('SIGKILL'); ...; await cdc.restartConnect();
//   await events.close(); await cdc.stop();
//
// With KAFKA_BROKERS set, Kafka and Connect are someone else's (CONNECT_URL, default
// http://localhost:8083, already streaming the right database): startCdc only checks that the
// connector is RUNNING, and stop() leaves everything running. Otherwise it runs the local runner
// of debezium/ (the code of `npm run cdc:up`) and stop() stops what it started.
// killConnect/restartConnect need a Connect started by that runner on this machine.
//
// One local stack per machine (fixed ports; one replication slot name per PostgreSQL cluster):
// startCdc takes a lock file, so test files in parallel jest workers take turns; stop() frees it.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import type { Consumer } from 'kafkajs';
import { waitForRunning } from '../../debezium/connect-rest.ts';
import { connectPid, startConnect, stopConnect, type Registration } from '../../debezium/connect.ts';
import { startKafka, stopKafka } from '../../debezium/kafka.ts';
import { logFile } from '../../debezium/processes.ts';
import { waitForActiveSlot } from '../../debezium/postgres.ts';
import { loadSettings, type CdcSettings } from '../../debezium/settings.ts';
import { down, up } from '../../debezium/stack.ts';
import { decodeEvent, type EventMessage } from '../../src/events/event-message.ts';
import { requireCdcPrerequisites } from './cdc-prerequisites.ts';
import { TEST_DATABASE_PREFIX } from './database.ts';

export interface CdcHandle {
  brokers: string[];
  /** OrderConfirmed and OrderRefunded topics (ORDER_CONFIRMED_TOPIC, ORDER_REFUNDED_TOPIC). */
  topics: { confirmed: string; refunded: string };
  /** True when KAFKA_BROKERS pointed at an already running Kafka/Connect. */
  external: boolean;
  /** Stops what this call started (Kafka Connect, Kafka) and frees the stack for the next user. */
  stop(): Promise<void>;
  /** Signals the Kafka Connect process (default SIGKILL: a crash) and waits until it is gone. */
  killConnect(signal?: NodeJS.Signals): Promise<void>;
  /** Starts Kafka Connect again and waits until the connector streams from its slot. */
  restartConnect(): Promise<void>;
  /** Signals the Kafka broker (default SIGKILL: a crash) and waits until it is gone. */
  killKafka(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the broker again on its data and waits until it serves the topic. */
  restartKafka(): Promise<void>;
}

/** For `releaseSlotOf`: the slots of test databases an interrupted earlier run left may be taken over. */
export const isTestDatabase = (database: string): boolean => database.startsWith(TEST_DATABASE_PREFIX);

export interface StartCdcOptions {
  databaseUrl: string;
  log?: (line: string) => void;
  /** Databases (of interrupted earlier runs) whose replication slot may be taken over. */
  releaseSlotOf?: (database: string) => boolean;
  /** How the connector is registered (debezium/connect.ts): its file, or Connect's REST API. */
  registration?: Registration;
}

export async function startCdc(opts: StartCdcOptions): Promise<CdcHandle> {
  const log = opts.log ?? ((): void => {});
  const settings = loadSettings(process.env, opts.databaseUrl);
  if (process.env.KAFKA_BROKERS) return external(settings);
  requireCdcPrerequisites(settings);

  const lock = await lockStack(settings);
  // What an interrupted earlier run started is ours to stop now.
  let startedKafka = lock.inherited.kafka;
  let startedConnect = lock.inherited.connect;
  try {
    const result = await up(settings, log, { releaseSlotOf: opts.releaseSlotOf, registration: opts.registration });
    startedKafka ||= result.startedKafka;
    startedConnect ||= result.startedConnect;
    lock.record({ kafka: startedKafka, connect: startedConnect });
  } catch (err) {
    lock.release();
    throw err;
  }
  return {
    brokers: [`127.0.0.1:${settings.kafkaPort}`],
    topics: settings.topics,
    external: false,
    async stop() {
      try {
        if (startedKafka) await down(settings, log);
        else if (startedConnect) await stopConnect(settings);
      } finally {
        lock.release();
      }
    },
    async killConnect(signal: NodeJS.Signals = 'SIGKILL') {
      if (!(await stopConnect(settings, signal))) throw new Error('Kafka Connect was not running');
    },
    async restartConnect() {
      startedConnect = (await startConnect(settings, log, opts.registration)).started || startedConnect;
      lock.record({ kafka: startedKafka, connect: startedConnect });
      await waitForActiveSlot(settings, settings.startTimeoutMs);
    },
    async killKafka(signal: NodeJS.Signals = 'SIGKILL') {
      if (!(await stopKafka(settings, signal))) throw new Error('Kafka was not running');
    },
    async restartKafka() {
      startedKafka = (await startKafka(settings, log)) || startedKafka;
      lock.record({ kafka: startedKafka, connect: startedConnect });
    },
  };
}

async function external(settings: CdcSettings): Promise<CdcHandle> {
  const connectUrl = (process.env.CONNECT_URL || 'http://localhost:8083').replace(/\/$/, '');
  await waitForRunning(connectUrl, settings.connectorName, {
    timeoutMs: 60_000,
    logHint: `the Kafka Connect log (${logFile(settings, 'connect')} when started by npm run cdc:up)`,
  });
  const local = (): CdcSettings => {
    if (connectPid(settings) === undefined) {
      throw new Error('killConnect/restartConnect need a Kafka Connect started by debezium/cdc.ts on this machine');
    }
    return settings;
  };
  return {
    brokers: process.env.KAFKA_BROKERS!.split(',').map((b) => b.trim()).filter(Boolean),
    topics: settings.topics,
    external: true,
    stop: async () => {},
    killConnect: async (signal: NodeJS.Signals = 'SIGKILL') => void (await stopConnect(local(), signal)),
    restartConnect: async () => {
      await startConnect(settings, () => {});
      await waitForActiveSlot(settings, settings.startTimeoutMs);
    },
    killKafka: async () => {
      throw new Error('killKafka needs the local stack: unset KAFKA_BROKERS');
    },
    restartKafka: async () => {
      throw new Error('restartKafka needs the local stack: unset KAFKA_BROKERS');
    },
  };
}

interface Owned {
  kafka: boolean;
  connect: boolean;
}

interface StackLock {
  /** What the holder of a lock left by a dead process had started. */
  inherited: Owned;
  record(owned: Owned): void;
  release(): void;
}

/**
 * An exclusive lock file with the holder's PID and what it started. The lock of a dead process
 * (a test run killed before stop()) is taken over, with the duty to stop what it started.
 */
async function lockStack(s: CdcSettings): Promise<StackLock> {
  mkdirSync(s.stateDir, { recursive: true });
  const file = join(s.stateDir, 'test-stack.lock');
  const timeoutMs = Number(process.env.CDC_TEST_LOCK_TIMEOUT_MS || 600_000);
  const deadline = Date.now() + timeoutMs;
  const write = (owned: Owned, flag: string): void => {
    const fd = openSync(file, flag);
    writeSync(fd, JSON.stringify({ pid: process.pid, ...owned }));
    closeSync(fd);
  };
  let inherited: Owned = { kafka: false, connect: false };
  for (;;) {
    try {
      write(inherited, 'wx');
      return {
        inherited,
        record: (owned) => write(owned, 'w'),
        release: () => rmSync(file, { force: true }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: Partial<Owned & { pid: number }> = {};
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
    } catch {
      // being written, or gone: look again
    }
    const unreadableForLong = holder.pid === undefined && Date.now() - (statMs(file) ?? Date.now()) > 5000;
    if (unreadableForLong || (holder.pid !== undefined && !alive(holder.pid))) {
      inherited = { kafka: inherited.kafka || Boolean(holder.kafka), connect: inherited.connect || Boolean(holder.connect) };
      rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`the local CDC stack is in use by process ${holder.pid} (another test file) for over ${timeoutMs} ms`);
    }
    await sleep(500);
  }
}

function statMs(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface CollectedMessage extends EventMessage {
  topic: string;
  /** The value exactly as on the topic (UTF-8). */
  raw: string;
  headerNames: string[];
  receivedAt: number;
}

export interface EventCollector {
  /** Every message read so far, in arrival order (duplicates included). */
  readonly messages: CollectedMessage[];
  /** Resolves with all messages once `done(messages)` holds; rejects after `timeoutMs`. */
  waitFor(done: (messages: CollectedMessage[]) => boolean, timeoutMs?: number): Promise<CollectedMessage[]>;
  close(): Promise<void>;
}

/**
 * A consumer (own group, from the earliest offset) that collects every message of the topic.
 * The topic outlives test runs, so filter what you assert on by your own order ids / event ids.
 */
export async function collectEvents(cdc: Pick<CdcHandle, 'brokers' | 'topics'>): Promise<EventCollector> {
  const kafka = new kafkajs.Kafka({ clientId: 'checkout-tests', brokers: cdc.brokers, logLevel: kafkajs.logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({ groupId: `checkout-tests-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100 });
  const messages: CollectedMessage[] = [];
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [cdc.topics.confirmed, cdc.topics.refunded], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      messages.push({
        topic,
        ...decodeEvent(partition, message),
        raw: message.value?.toString('utf8') ?? '',
        headerNames: Object.keys(message.headers ?? {}),
        receivedAt: Date.now(),
      });
    },
  });
  await joined;
  return {
    messages,
    async waitFor(done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!done(messages)) {
        if (Date.now() > deadline) throw new Error(`events did not arrive within ${timeoutMs} ms (${messages.length} read)`);
        await sleep(50);
      }
      return messages;
    },
    close: () => consumer.disconnect(),
  };
}
