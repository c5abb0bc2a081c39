// Pre-flight checks on PostgreSQL, so a misconfigured database fails `up` with a sentence that
// says what to do instead of a stack trace in the Connect log.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { requireDatabase, type CdcSettings } from './settings.ts';

const PUBLICATION = 'checkout_outbox';
export const SLOT = 'checkout_outbox';

async function withClient<T>(s: CdcSettings, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const { url, db } = requireDatabase(s);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to DATABASE_URL (${db.host}:${db.port}/${db.name}): ${(err as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function checkPostgres(s: CdcSettings, opts: CheckOptions = {}): Promise<void> {
  const { db } = requireDatabase(s);
  await withClient(s, async (c) => {
    const wal = (await c.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level;
    if (wal !== 'logical') {
      throw new Error(
        `PostgreSQL at ${db.host}:${db.port} has wal_level=${wal}; Debezium needs wal_level=logical. ` +
          `As a superuser: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL.`,
      );
    }
    if (s.embedded && process.env.CDC_DATABASE_PASSWORD === undefined) await setEmbeddedCdcPassword(c, db.user, db.password);
    const pub = await c.query('select 1 from pg_publication where pubname = $1', [PUBLICATION]);
    if (pub.rowCount === 0) {
      throw new Error(`database "${db.name}" has no publication ${PUBLICATION}: run the migrations first (npm run migrate).`);
    }
    // A replication slot belongs to the whole cluster but is bound to one database.
    const other = (
      await c.query<{ database: string; active: boolean }>(
        'select database, active from pg_replication_slots where slot_name = $1',
        [SLOT],
      )
    ).rows[0];
    if (other && other.database !== db.name) {
      if (opts.releaseSlotOf?.(other.database)) {
        await dropSlotOf(s, c, other.database);
      } else {
        throw new Error(
          `replication slot ${SLOT} already exists for database "${other.database}"${other.active ? ' and is in use' : ''}; ` +
            `a slot serves one database. If that database is gone or no longer streamed: ` +
            `SELECT pg_drop_replication_slot('${SLOT}');`,
        );
      }
    }
  });
}

export interface CheckOptions {
  /**
   * For tests: the slot may be taken over from these databases (their throw-away databases of
   * an interrupted run). The slot is dropped once no one streams from it.
   */
  releaseSlotOf?: (database: string) => boolean;
}

/** A logical slot can only be dropped from a session on its own database. */
async function dropSlotOf(s: CdcSettings, c: pg.Client, database: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await c.query('select 1 from pg_replication_slots where slot_name = $1 and active', [SLOT])).rowCount) {
    if (Date.now() > deadline) throw new Error(`replication slot ${SLOT} of "${database}" is still in use`);
    await sleep(200);
  }
  const url = new URL(requireDatabase(s).url);
  url.pathname = `/${encodeURIComponent(database)}`;
  const other = new pg.Client({ connectionString: url.toString() });
  await other.connect();
  try {
    await other.query('select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [SLOT]);
  } finally {
    await other.end();
  }
}

/** See embeddedCdcPassword in settings.ts: only ever done on the service's own embedded cluster. */
async function setEmbeddedCdcPassword(c: pg.Client, role: string, password: string): Promise<void> {
  const exists = await c.query('select 1 from pg_roles where rolname = $1', [role]);
  if (exists.rowCount === 0) throw new Error(`role ${role} does not exist in the embedded PostgreSQL: run the migrations first (npm start does).`);
  await c.query(`alter role ${c.escapeIdentifier(role)} password ${c.escapeLiteral(password)}`);
}

/**
 * Waits until the connector streams from its slot. RUNNING in Connect's REST API can come a
 * moment before the slot exists (and before a snapshot of the outbox has been sent), so "ready"
 * means the slot is active.
 */
export async function waitForActiveSlot(s: CdcSettings, timeoutMs: number): Promise<void> {
  const { db } = requireDatabase(s);
  await withClient(s, async (c) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await c.query('select 1 from pg_replication_slots where slot_name = $1 and database = $2 and active', [SLOT, db.name]);
      if (r.rowCount === 1) return;
      await sleep(200);
    }
    throw new Error(`replication slot ${SLOT} in "${db.name}" did not become active within ${timeoutMs} ms`);
  });
}

/**
 * Recovery (npm run cdc:redeliver): writes the outbox rows created in [since, until) to the WAL
 * again, with their original ids (checkout.redeliver_outbox), so whichever connector streams this
 * database sends them again. Runs as DATABASE_URL's role: the schema owner.
 */
export async function redeliverOutbox(s: CdcSettings, since: Date, until?: Date): Promise<number> {
  return withClient(s, async (c) => {
    const { rows } = await c.query<{ count: number }>(
      'select checkout.redeliver_outbox($1, coalesce($2, \'infinity\'::timestamptz)) as count',
      [since.toISOString(), until?.toISOString() ?? null],
    );
    return rows[0]!.count;
  });
}
