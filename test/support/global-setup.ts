import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { databaseUrl, provisionPostgres, type ProvisionedPostgres } from './postgres.ts';

declare global {
  var checkoutTestPostgres: { postgres: ProvisionedPostgres; template: string } | undefined;
}

/** Migrates one template database; every test file clones its own database from it. */
export default async function globalSetup(): Promise<void> {
  const postgres = await provisionPostgres();
  console.log(`\n[test] PostgreSQL: ${postgres.source}`);
  const template = `checkout_template_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgres.adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${template}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrl(postgres.adminUrl, template));
  process.env.CHECKOUT_TEST_ADMIN_URL = postgres.adminUrl;
  process.env.CHECKOUT_TEST_TEMPLATE = template;
  globalThis.checkoutTestPostgres = { postgres, template };
}
