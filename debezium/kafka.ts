// Kafka in KRaft mode: one JVM that is both broker and controller. The storage is formatted once
// with `StorageTool format --standalone` (KIP-853: a dynamic quorum of this one controller), then
// `kafka.Kafka` runs on it; the data survives `down`/`up`, so consumers' offsets do too.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { logFile, logTail, runJava, runningPid, startJava, stopProcess } from './processes.ts';
import { brokerAddress, type CdcSettings } from './settings.ts';

export const KAFKA_MAIN = 'kafka.Kafka';
const STORAGE_TOOL = 'kafka.tools.StorageTool';

const dataDir = (s: CdcSettings): string => join(s.stateDir, 'kafka', 'data');
const propertiesFile = (s: CdcSettings): string => join(s.stateDir, 'kafka', 'server.properties');

/** debezium/kafka.properties plus what depends on this machine: ports and the data folder. */
function writeServerProperties(s: CdcSettings): void {
  mkdirSync(dataDir(s), { recursive: true });
  const base = readFileSync(join(s.debeziumDir, 'kafka.properties'), 'utf8');
  const local = [
    '',
    '# Written by debezium/kafka.ts from CDC_KAFKA_PORT, CDC_CONTROLLER_PORT, CDC_STATE_DIR.',
    `listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort},CONTROLLER://127.0.0.1:${s.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${s.kafkaPort},CONTROLLER://127.0.0.1:${s.controllerPort}`,
    `controller.quorum.bootstrap.servers=127.0.0.1:${s.controllerPort}`,
    `log.dirs=${dataDir(s)}`,
    '',
  ];
  writeFileSync(propertiesFile(s), base + local.join('\n'));
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as `random-uuid`). */
function clusterId(): string {
  let id: string;
  do id = randomBytes(16).toString('base64url');
  while (id.startsWith('-'));
  return id;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolvePromise(true); });
    socket.once('error', () => resolvePromise(false));
  });
}

export function kafkaPid(s: CdcSettings): number | undefined {
  return runningPid(s, 'kafka', KAFKA_MAIN);
}

/** Starts Kafka unless it already runs; true when it did. */
export async function startKafka(s: CdcSettings, log: (line: string) => void): Promise<boolean> {
  const started = kafkaPid(s) === undefined;
  if (started) {
    if (await portOpen(s.kafkaPort)) {
      throw new Error(`port ${s.kafkaPort} is taken by another process: set CDC_KAFKA_PORT, or stop it`);
    }
    writeServerProperties(s);
    if (!existsSync(join(dataDir(s), 'meta.properties'))) {
      log('Formatting Kafka storage (KRaft, standalone controller)…');
      await runJava(s, 'kafka-format', {
        mainClass: STORAGE_TOOL,
        args: ['format', '--standalone', '--cluster-id', clusterId(), '--config', propertiesFile(s)],
        heap: '256m',
      });
    }
    startJava(s, 'kafka', { mainClass: KAFKA_MAIN, args: [propertiesFile(s)], heap: '512m' });
  }
  await waitForBroker(s);
  await ensureTopics(s, Object.values(s.topics));
  return started;
}

async function waitForBroker(s: CdcSettings): Promise<void> {
  const deadline = Date.now() + s.startTimeoutMs;
  while (Date.now() < deadline) {
    if (kafkaPid(s) === undefined) {
      throw new Error(`Kafka exited during start; see ${logFile(s, 'kafka')}:\n${logTail(s, 'kafka')}`);
    }
    if (await portOpen(s.kafkaPort)) return;
    await sleep(200);
  }
  throw new Error(`Kafka did not listen on ${brokerAddress(s)} within ${s.startTimeoutMs} ms; see ${logFile(s, 'kafka')}`);
}

/**
 * Creates the topics up front (idempotent) rather than leaving them to auto-creation on first
 * write: a consumer that subscribes before the first event then finds them.
 */
async function ensureTopics(s: CdcSettings, topics: string[]): Promise<void> {
  const admin = new kafkajs.Kafka({
    clientId: 'checkout-cdc-runner',
    brokers: [brokerAddress(s)],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
  }).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + s.startTimeoutMs;
    for (;;) {
      try {
        await admin.createTopics({ topics: topics.map((topic) => ({ topic })), waitForLeaders: true });
        // Looking up a group's coordinator creates __consumer_offsets now, so the first consumer
        // does not meet "group coordinator not available" while it is being created.
        await admin.describeGroups(['checkout-cdc-runner']);
        return;
      } catch (err) {
        // The broker accepts connections a moment before its controller is ready.
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** SIGTERM for a clean stop; the tests pass SIGKILL to simulate a broker crash. */
export async function stopKafka(s: CdcSettings, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  return stopProcess(s, 'kafka', KAFKA_MAIN, signal, 60_000);
}
