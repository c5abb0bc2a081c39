// Makes one test database really unreachable (no new connections, existing ones terminated) and
// brings it back, through a separate superuser connection to the server's admin database.
import pg from 'pg';
import { adminServerUrl } from './database.ts';

async function asAdmin(statements: Array<[string, unknown[]?]>): Promise<void> {
  const client = new pg.Client({ connectionString: adminServerUrl() });
  await client.connect();
  try {
    for (const [text, values] of statements) await client.query(text, values);
  } finally {
    await client.end();
  }
}

export async function takeDatabaseDown(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected database name ${name}`);
  await asAdmin([
    [`alter database ${name} allow_connections false`],
    ['select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]],
  ]);
}

export async function bringDatabaseBack(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected database name ${name}`);
  await asAdmin([[`alter database ${name} allow_connections true`]]);
}
