import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabasePool } from 'slonik';
import { createDatabasePool } from '../../src/db/pool.ts';
import { databaseUrl, loginUrl } from './postgres.ts';

export type TestDatabase = {
  name: string;
  /** Superuser URL of this database, which owns schema checkout (migrations, seeding, DBA-style checks). */
  url: string;
  /** The service's own login, checkout_app: DATABASE_URL of a service on this database. */
  appUrl: string;
  /** Logged in as checkout_app, exactly as the service is. */
  app: DatabasePool;
  /** Superuser. */
  admin: DatabasePool;
  drop(): Promise<void>;
};

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest's global setup (npm test)`);
  return value;
}

export function adminServerUrl(): string {
  return requireEnv('CHECKOUT_TEST_ADMIN_URL');
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminServerUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Every database the tests create is named with this prefix. */
export const TEST_DATABASE_PREFIX = 'checkout_test_';

/** An empty database, not migrated (for migration tests). */
export async function createEmptyDatabase(): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  return {
    name,
    url: databaseUrl(adminServerUrl(), name),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

/** A migrated database of this test file's own, cloned from the suite's template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name} template ${requireEnv('CHECKOUT_TEST_TEMPLATE')}`);
  const url = databaseUrl(adminServerUrl(), name);
  const appUrl = loginUrl(url, 'checkout_app');
  const app = await createDatabasePool(appUrl);
  const admin = await createDatabasePool(url);
  return {
    name,
    url,
    appUrl,
    app,
    admin,
    async drop() {
      await Promise.allSettled([app.end(), admin.end()]);
      // A logical replication slot (the CDC tests') belongs to its database, and some majors refuse
      // to drop a database that still has one; stop whatever streams from it first.
      await adminQuery(`select pg_drop_replication_slot(slot_name) from pg_replication_slots where database = '${name}' and not active`);
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}
