// A throw-away database with exactly what the migrations give Debezium (checkout.outbox, the
// publication checkout_outbox, the role checkout_cdc), so the CDC tests need no migrations.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { adminServerUrl as adminUrl } from '../support/database.ts';

const PREFIX = 'cdc_scratch_';

/** The databases this file creates, of processes that are gone (an interrupted run). */
export const isScratchDatabase = (name: string): boolean => name.startsWith(PREFIX) && !ownerAlive(name);

export interface ScratchDatabase {
  name: string;
  /** The admin role on the scratch database: DATABASE_URL for the runner (Debezium logs in as checkout_cdc). */
  url: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Drops the replication slot (the connector must be stopped) and the database. */
  drop(): Promise<void>;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** cdc_scratch_<pid>_<random>: the creating process, so leftovers are told from databases in use. */
function ownerAlive(database: string): boolean {
  const pid = Number(database.slice(PREFIX.length).split('_')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Databases of earlier, interrupted runs of these tests (whose process is gone) are dropped. */
async function dropLeftovers(c: pg.Client): Promise<void> {
  const dbs = await c.query<{ datname: string }>("select datname from pg_database where datname like $1 || '%'", [PREFIX]);
  for (const { datname } of dbs.rows) {
    if (ownerAlive(datname)) continue;
    // Fails while a slot of that database is in use; startCdc releases it (releaseSlotOf).
    await c.query(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`).catch(() => {});
  }
}

export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `${PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(async (c) => {
    await dropLeftovers(c);
    await c.query(`create database ${pg.escapeIdentifier(name)}`);
  });
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  await pool.query(`
    create schema checkout;
    create table checkout.outbox (
      id uuid primary key,
      aggregatetype text not null,
      aggregateid text not null,
      type text not null,
      payload jsonb not null,
      created_at timestamptz not null default now());
    create publication checkout_outbox for table checkout.outbox with (publish = 'insert');
    -- Not published: WAL traffic the connector must skip (and whose keepalives advance the slot).
    create table public.unrelated (id bigserial primary key, filler text not null);
    do $$ begin
      if not exists (select from pg_roles where rolname = 'checkout_cdc') then
        create role checkout_cdc login replication;
      end if;
    end $$;
    grant connect on database ${pg.escapeIdentifier(name)} to checkout_cdc;
    grant usage on schema checkout to checkout_cdc;
    grant select on checkout.outbox to checkout_cdc;
  `);
  return {
    name,
    url: url.toString(),
    query: (sql, params) => pool.query(sql, params),
    async drop() {
      await pool.end();
      await withAdmin(async (c) => {
        await c.query(
          'select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = $1 and not active',
          [name],
        );
        await c.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
        await dropLeftovers(c);
      });
    },
  };
}
