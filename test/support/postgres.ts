// Which PostgreSQL the suite runs on: TEST_DATABASE_URL when given (a superuser URL; the suite
// creates and drops databases there); else a testcontainers PostgreSQL when a Docker engine
// answers; else the PostgreSQL running on this machine.
import { existsSync } from 'node:fs';
import pg from 'pg';

export type ProvisionedPostgres = { adminUrl: string; source: string; stop(): Promise<void> };

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

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

export async function provisionPostgres(): Promise<ProvisionedPostgres> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    if (!(await answers(given))) throw new Error('TEST_DATABASE_URL is set but PostgreSQL does not answer there');
    return { adminUrl: given, source: 'TEST_DATABASE_URL', stop: async () => {} };
  }
  if (dockerEngineLikely()) {
    try {
      return await startContainer();
    } catch (error) {
      console.warn(`Docker engine did not start a PostgreSQL container (${(error as Error).message}); trying the local server`);
    }
  }
  if (await answers(LOCAL_URL)) {
    return { adminUrl: LOCAL_URL, source: `the local PostgreSQL at 127.0.0.1:5432`, stop: async () => {} };
  }
  throw new Error(
    'No PostgreSQL for the tests: set TEST_DATABASE_URL, start a Docker engine, or run PostgreSQL on 127.0.0.1:5432',
  );
}

/** The same server, another database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
