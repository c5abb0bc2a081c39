// Everything the local CDC stack needs to know, read once from the environment.
// The connector file (checkout-outbox-connector.json) reads the database and topics through
// Kafka's EnvVarConfigProvider, so `connectorEnv()` is the only bridge between the two.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_TOPICS = { confirmed: 'checkout.order-confirmed', refunded: 'checkout.order-refunded' } as const;
export const DEFAULT_CDC_USER = 'checkout_cdc';

export interface DatabaseTarget {
  host: string;
  port: number;
  name: string;
  user: string;
  password: string;
}

export interface CdcSettings {
  /** Folder of this file: the connector file, worker/broker properties, log4j2 config, pom.xml. */
  debeziumDir: string;
  /** Ignored state folder (jars, Kafka data, Connect offsets, logs, PID files). */
  stateDir: string;
  jarsDir: string;
  logsDir: string;
  kafkaPort: number;
  controllerPort: number;
  connectPort: number;
  /** Where the connector routes each outbox event type (ORDER_CONFIRMED_TOPIC, ORDER_REFUNDED_TOPIC). */
  topics: { confirmed: string; refunded: string };
  connectorFile: string;
  connectorName: string;
  /** Used as is for the pre-flight checks (wal_level, publication, slot); unset for `down`. */
  databaseUrl: string | undefined;
  /** No DATABASE_URL, so the service's embedded PostgreSQL (see embeddedDatabaseUrl). */
  embedded: boolean;
  /** What the connector logs in as: host/port/name of DATABASE_URL, the CDC role's credentials. */
  database: DatabaseTarget | undefined;
  /** How long `up` waits for each of Kafka and the connector. */
  startTimeoutMs: number;
  /** Extra JVM options of Kafka Connect (CDC_CONNECT_JVM_OPTIONS, split on spaces); bench/README.md measures some. */
  connectJvmOptions: string[];
}

type Env = Record<string, string | undefined>;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a TCP port (1..65535), got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Host, port and database come from DATABASE_URL (the database the service writes to). The
 * credentials do not: the service's role may not replicate, so the connector logs in as
 * CDC_DATABASE_USER (default checkout_cdc, the REPLICATION role the migrations create) with
 * CDC_DATABASE_PASSWORD (default empty: local trust authentication).
 */
export function databaseTarget(databaseUrl: string, env: Env = process.env): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a valid URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must start with postgres:// or postgresql://, got ${url.protocol}//`);
  }
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name === '') throw new Error('DATABASE_URL names no database (postgres://host:port/<database>)');
  return {
    host: url.hostname || 'localhost',
    port: url.port === '' ? 5432 : Number(url.port),
    name,
    user: env.CDC_DATABASE_USER || DEFAULT_CDC_USER,
    password: env.CDC_DATABASE_PASSWORD ?? '',
  };
}

/**
 * Without DATABASE_URL the service runs an embedded PostgreSQL (src/embedded/postgres.ts):
 * 127.0.0.1:$EMBEDDED_POSTGRES_PORT (54329), database checkout, superuser postgres with the
 * password in $DATA_DIR/postgres.password (DATA_DIR defaults to .data in the repository).
 */
export function embeddedDatabaseUrl(env: Env, repoDir: string): string | undefined {
  const passwordFile = resolve(repoDir, env.DATA_DIR || '.data', 'postgres.password');
  if (!existsSync(passwordFile)) return undefined;
  const password = encodeURIComponent(readFileSync(passwordFile, 'utf8').trim());
  return `postgres://postgres:${password}@127.0.0.1:${env.EMBEDDED_POSTGRES_PORT || 54329}/checkout`;
}

/**
 * The embedded cluster authenticates every role by password (scram-sha-256) and the migrations
 * create checkout_cdc without one, so the runner gives it a password of this checkout's own,
 * kept in .cdc/ (checkPostgres sets it on the role).
 */
function embeddedCdcPassword(stateDir: string): string {
  const file = join(stateDir, 'checkout_cdc.password');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

// DATABASE_OWNER_URL first: DATABASE_URL is the service's own login (checkout_app), which cannot
// drop a stale slot; the pre-flight checks want the owner's. Debezium itself logs in as checkout_cdc.
export function loadSettings(env: Env = process.env, databaseUrl = env.DATABASE_OWNER_URL || env.DATABASE_URL || undefined): CdcSettings {
  const debeziumDir = import.meta.dirname;
  const stateDir = resolve(env.CDC_STATE_DIR || join(debeziumDir, '..', '.cdc'));
  const connectorFile = join(debeziumDir, 'checkout-outbox-connector.json');
  const embeddedUrl = databaseUrl === undefined ? embeddedDatabaseUrl(env, join(debeziumDir, '..')) : undefined;
  const url = databaseUrl ?? embeddedUrl;
  const database = url === undefined ? undefined : databaseTarget(url, env);
  if (database && embeddedUrl && env.CDC_DATABASE_PASSWORD === undefined) database.password = embeddedCdcPassword(stateDir);
  return {
    debeziumDir,
    stateDir,
    jarsDir: join(stateDir, 'jars'),
    logsDir: join(stateDir, 'logs'),
    kafkaPort: port(env, 'CDC_KAFKA_PORT', 9092),
    controllerPort: port(env, 'CDC_CONTROLLER_PORT', 9093),
    connectPort: port(env, 'CDC_CONNECT_PORT', 8083),
    topics: {
      confirmed: env.ORDER_CONFIRMED_TOPIC || DEFAULT_TOPICS.confirmed,
      refunded: env.ORDER_REFUNDED_TOPIC || DEFAULT_TOPICS.refunded,
    },
    connectorFile,
    connectorName: readConnectorFile(connectorFile).name,
    databaseUrl: url,
    embedded: embeddedUrl !== undefined,
    database,
    startTimeoutMs: Number(env.CDC_START_TIMEOUT_MS || 180_000),
    connectJvmOptions: (env.CDC_CONNECT_JVM_OPTIONS ?? '').split(' ').filter(Boolean),
  };
}

export interface ConnectorFile {
  name: string;
  config: Record<string, string>;
}

/** The connector file in the shape of Connect's `POST /connectors` body: { name, config }. */
export function readConnectorFile(path: string): ConnectorFile {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<ConnectorFile>;
  if (typeof parsed.name !== 'string' || typeof parsed.config !== 'object' || parsed.config === null) {
    throw new Error(`${path}: expected { "name": string, "config": { ... } }`);
  }
  return { name: parsed.name, config: parsed.config };
}

export function requireDatabase(s: CdcSettings): { url: string; db: DatabaseTarget } {
  if (s.databaseUrl === undefined || s.database === undefined) {
    throw new Error(
      'DATABASE_OWNER_URL and DATABASE_URL are not set and no embedded PostgreSQL of the service was found ($DATA_DIR/postgres.password): ' +
        'start the service once (npm start), or point DATABASE_OWNER_URL at the database the service writes to ' +
        '(e.g. DATABASE_OWNER_URL=postgres://postgres@127.0.0.1:5432/checkout npm run cdc:up).',
    );
  }
  return { url: s.databaseUrl, db: s.database };
}

/** The variables the connector file's ${env:...} placeholders resolve in the Connect JVM. */
export function connectorEnv(s: CdcSettings): Record<string, string> {
  const { db } = requireDatabase(s);
  return {
    CDC_DATABASE_HOST: db.host,
    CDC_DATABASE_PORT: String(db.port),
    CDC_DATABASE_NAME: db.name,
    CDC_DATABASE_USER: db.user,
    CDC_DATABASE_PASSWORD: db.password,
    ORDER_CONFIRMED_TOPIC: s.topics.confirmed,
    ORDER_REFUNDED_TOPIC: s.topics.refunded,
  };
}

export const brokerAddress = (s: CdcSettings): string => `127.0.0.1:${s.kafkaPort}`;
export const connectUrl = (s: CdcSettings): string => `http://127.0.0.1:${s.connectPort}`;
