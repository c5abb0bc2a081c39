// Kafka Connect in standalone mode with the one connector file. ConnectStandalone (Kafka 3.7+)
// accepts a JSON connector file in the REST API's { "name", "config" } shape, so the file that
// docker-compose PUTs to a Connect cluster is the very file this worker loads.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectorStatus, waitForRunning, waitForRestApi, type ConnectorStatus } from './connect-rest.ts';
import { logFile, logTail, runningPid, startJava, stopProcess } from './processes.ts';
import { brokerAddress, connectorEnv, connectUrl, requireDatabase, type CdcSettings } from './settings.ts';

export const CONNECT_MAIN = 'org.apache.kafka.connect.cli.ConnectStandalone';

const connectDir = (s: CdcSettings): string => join(s.stateDir, 'connect');
const workerFile = (s: CdcSettings): string => join(connectDir(s), 'worker.properties');
const targetFile = (s: CdcSettings): string => join(connectDir(s), 'target.json');

/**
 * One offsets file per database: the offsets are WAL positions of one database's slot, and a
 * position from another database (say a test's scratch database) means nothing there.
 */
function offsetsFile(s: CdcSettings): string {
  const { db } = requireDatabase(s);
  const key = `${db.host}-${db.port}-${db.name}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  return join(connectDir(s), `offsets-${key}.dat`);
}

function writeWorkerProperties(s: CdcSettings): void {
  mkdirSync(connectDir(s), { recursive: true });
  const base = readFileSync(join(s.debeziumDir, 'connect-standalone.properties'), 'utf8');
  const local = [
    '',
    '# Written by debezium/connect.ts from CDC_KAFKA_PORT, CDC_CONNECT_PORT, CDC_STATE_DIR.',
    `bootstrap.servers=${brokerAddress(s)}`,
    `listeners=${connectUrl(s)}`,
    `offset.storage.file.filename=${offsetsFile(s)}`,
    '',
  ];
  writeFileSync(workerFile(s), base + local.join('\n'));
}

export function connectPid(s: CdcSettings): number | undefined {
  return runningPid(s, 'connect', CONNECT_MAIN);
}

/** Which database the running worker streams (it only knows its environment at start). */
function runningTarget(s: CdcSettings): string | undefined {
  try {
    return readFileSync(targetFile(s), 'utf8');
  } catch {
    return undefined;
  }
}

function targetOf(s: CdcSettings): string {
  const { db } = requireDatabase(s);
  return JSON.stringify({ host: db.host, port: db.port, name: db.name, user: db.user, topics: s.topics });
}

/**
 * A Connect of this runner that streams another database or to other topics holds that database's slot and
 * knows only the environment it was started with: stop it. True when it was stopped.
 */
export async function stopRetargetedConnect(s: CdcSettings, log: (line: string) => void): Promise<boolean> {
  if (connectPid(s) === undefined || runningTarget(s) === targetOf(s)) return false;
  log('Kafka Connect streams another database or to other topics: restarting it…');
  return stopConnect(s);
}

/**
 * How the connector file reaches the worker: `file`, as ConnectStandalone's argument (npm run
 * cdc:up); `rest`, by debezium/register.ts through the worker's REST API once it answers, the way
 * docker-compose and Connect clusters get it (a standalone worker does not keep REST-created
 * connectors across restarts, so a restart registers it again).
 */
export type Registration = 'file' | 'rest';

/** Starts Connect unless it already runs for this target; `started` says whether it did. */
export async function startConnect(
  s: CdcSettings, log: (line: string) => void, registration: Registration = 'file',
): Promise<{ started: boolean; status: ConnectorStatus }> {
  await stopRetargetedConnect(s, log);
  const started = connectPid(s) === undefined;
  if (started) {
    writeWorkerProperties(s);
    writeFileSync(targetFile(s), targetOf(s));
    startJava(s, 'connect', {
      mainClass: CONNECT_MAIN,
      args: registration === 'file' ? [workerFile(s), s.connectorFile] : [workerFile(s)],
      env: connectorEnv(s),
      heap: '768m',
      jvmOptions: s.connectJvmOptions,
    });
    if (registration === 'rest') await registerThroughRestApi(s);
  }
  return { started, status: await waitForConnector(s) };
}

/** Runs debezium/register.ts, exactly as docker-compose's connect-register service does. */
async function registerThroughRestApi(s: CdcSettings): Promise<void> {
  await waitForRestApi(connectUrl(s), { timeoutMs: s.startTimeoutMs, logHint: logFile(s, 'connect'), check: () => assertConnectAlive(s) });
  const child = spawn(process.execPath, [join(s.debeziumDir, 'register.ts'), s.connectorFile], {
    env: { ...process.env, CONNECT_URL: connectUrl(s), CONNECT_WAIT_MS: String(s.startTimeoutMs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`debezium/register.ts exited with ${code}:\n${output}`);
}

function assertConnectAlive(s: CdcSettings): void {
  if (connectPid(s) === undefined) {
    throw new Error(`Kafka Connect exited during start; see ${logFile(s, 'connect')}:\n${logTail(s, 'connect')}`);
  }
}

export async function waitForConnector(s: CdcSettings): Promise<ConnectorStatus> {
  return waitForRunning(connectUrl(s), s.connectorName, {
    timeoutMs: s.startTimeoutMs,
    logHint: logFile(s, 'connect'),
    check: () => assertConnectAlive(s),
  });
}

/** SIGTERM for a clean stop; the tests pass SIGKILL to simulate a crash. */
export async function stopConnect(s: CdcSettings, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  return stopProcess(s, 'connect', CONNECT_MAIN, signal, 30_000);
}

export async function currentConnectorStatus(s: CdcSettings): Promise<ConnectorStatus | undefined> {
  return connectorStatus(connectUrl(s), s.connectorName);
}
