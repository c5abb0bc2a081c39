// The benchmark's database: its own, on a real PostgreSQL, migrated, with the demo catalog.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { seedDemoCatalog } from '../src/db/demo-catalog.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { loginUrl, provisionPostgres } from '../test/support/postgres.ts';

/** A leg that started after `BenchDatabase.vacuum()`, with the autovacuum passes that ran during it. */
export type AfterVacuum = { autovacuumPasses: number };

export type BenchDatabase = {
  url: string;
  serviceUrl: string;
  server: string;
  version: string;
  /** The server's postmaster when it runs on this machine (its CPU is then measured), else undefined. */
  postmasterPid: number | undefined;
  /**
   * `VACUUM (ANALYZE)` of the checkout schema's tables, as their owner, so that every leg, HTTP or
   * SQL, starts from the same state of its tables: vacuumed, with fresh statistics, and with
   * autovacuum's insert and update counters at zero (bench/README.md, "Every leg after a VACUUM").
   */
  vacuum(): Promise<void>;
  /** Autovacuum and autoanalyze passes over the checkout schema's tables so far (pg_stat_user_tables). */
  autovacuumPasses(): Promise<number>;
  drop(): Promise<void>;
};

/**
 * A new database on BENCH_DATABASE_URL, else on the server the test suite would use (TEST_DATABASE_URL,
 * Docker, or an embedded PostgreSQL of its own, durable), migrated and with the demo catalog; `url` is
 * the owner's, `serviceUrl` the checkout_app login the service uses; drop() removes it all.
 */
export async function createBenchDatabase(): Promise<BenchDatabase> {
  const provisioned = process.env.BENCH_DATABASE_URL ? undefined : await provisionPostgres({ durable: true });
  const adminUrl = process.env.BENCH_DATABASE_URL ?? provisioned!.adminUrl;
  const database = `checkout_bench_${randomBytes(4).toString('hex')}`;
  const admin = (text: string) => queryOnce(adminUrl, text);
  await admin(`create database ${database}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
  const drop = async () => {
    try {
      await admin(`drop database if exists ${database} with (force)`);
    } finally {
      // Also when the drop failed (after Ctrl-C the server may be shutting down already): stop()
      // deletes the embedded server's folder.
      await provisioned?.stop();
    }
  };
  try {
    await migrate(url);
    const owner = await createDatabasePool(url, { maxPoolSize: 1 });
    await seedDemoCatalog(owner).finally(() => owner.end());
  } catch (error) {
    await drop();
    throw error;
  }
  // A backend's parent is the postmaster; read while the backend lives (only when the server is on this machine).
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const { rows } = await client.query<{ version: string; backend: number }>('select current_setting(\'server_version\') as version, pg_backend_pid() as backend');
  const status = `/proc/${rows[0]!.backend}/status`;
  const ppid = existsSync(status) && readFileSync(`/proc/${rows[0]!.backend}/cmdline`, 'utf8').startsWith('postgres')
    ? Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(status, 'utf8'))?.[1])
    : undefined;
  await client.end();
  const checkoutTables = `select format('%I.%I', schemaname, relname) as name, autovacuum_count + autoanalyze_count as passes
                            from pg_stat_user_tables where schemaname = 'checkout'`;
  const vacuum = async () => {
    const tables = await queryOnce<{ name: string }>(url, checkoutTables);
    await queryOnce(url, `vacuum (analyze) ${tables.map((t) => t.name).join(', ')}`);
  };
  const autovacuumPasses = async () => (await queryOnce<{ passes: string }>(url, checkoutTables)).reduce((sum, t) => sum + Number(t.passes), 0);
  const server = provisioned?.source.replace(/ \(data in .*\)$/, '') ?? `BENCH_DATABASE_URL (${new URL(adminUrl).host})`;
  return { url, serviceUrl: loginUrl(url, 'checkout_app'), server, version: rows[0]!.version, postmasterPid: ppid, vacuum, autovacuumPasses, drop };
}

/** One statement on a connection of its own: the bench's few administrative statements. */
async function queryOnce<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return (await client.query<R>(text).finally(() => client.end())).rows;
}
