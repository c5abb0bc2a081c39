// The whole local CDC stack, as functions: used by `cdc.ts` (npm run cdc:up / cdc:down) and by
// the test helper test/support/cdc.ts, so both start exactly the same thing.
import { currentConnectorStatus, connectPid, startConnect, stopConnect, stopRetargetedConnect, type Registration } from './connect.ts';
import { ensureJars } from './jars.ts';
import { kafkaPid, startKafka, stopKafka } from './kafka.ts';
import { logFile } from './processes.ts';
import { checkPostgres, waitForActiveSlot, type CheckOptions } from './postgres.ts';
import { brokerAddress, connectUrl, type CdcSettings } from './settings.ts';

export type Log = (line: string) => void;

export interface UpResult {
  fetched: boolean;
  startedKafka: boolean;
  startedConnect: boolean;
  fetchMs: number;
  kafkaMs: number;
  connectMs: number;
  totalMs: number;
}

export async function up(s: CdcSettings, log: Log, opts: CheckOptions & { registration?: Registration } = {}): Promise<UpResult> {
  const t0 = Date.now();
  // First, so that a slot held by a Connect of this runner for another database is let go.
  await stopRetargetedConnect(s, log);
  await checkPostgres(s, opts);
  const fetched = await ensureJars(s, log);
  const t1 = Date.now();
  const kafkaRunning = kafkaPid(s) !== undefined;
  log(`${kafkaRunning ? 'Kafka already runs' : 'Starting Kafka (KRaft)'} on ${brokerAddress(s)}…  log: ${logFile(s, 'kafka')}`);
  const startedKafka = await startKafka(s, log);
  const t2 = Date.now();
  log(`Kafka Connect + Debezium on ${connectUrl(s)}…  log: ${logFile(s, 'connect')}`);
  const { started: startedConnect } = await startConnect(s, log, opts.registration);
  await waitForActiveSlot(s, s.startTimeoutMs);
  const t3 = Date.now();
  return { fetched, startedKafka, startedConnect, fetchMs: t1 - t0, kafkaMs: t2 - t1, connectMs: t3 - t2, totalMs: t3 - t0 };
}

/** Connect first, so it stops while Kafka can still take its last records and offsets. */
export async function down(s: CdcSettings, log: Log): Promise<void> {
  if (await stopConnect(s)) log('Kafka Connect stopped.');
  if (await stopKafka(s)) log('Kafka stopped.');
}

export async function status(s: CdcSettings): Promise<Record<string, unknown>> {
  const st = await currentConnectorStatus(s);
  return {
    kafka: { pid: kafkaPid(s) ?? null, brokers: brokerAddress(s) },
    connect: { pid: connectPid(s) ?? null, url: connectUrl(s) },
    connector: st ? { name: st.name, state: st.connector.state, tasks: st.tasks.map((t) => t.state) } : null,
    topics: s.topics,
    database: s.database ? `${s.database.host}:${s.database.port}/${s.database.name} as ${s.database.user}` : null,
  };
}
