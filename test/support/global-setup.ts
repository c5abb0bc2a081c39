import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.ts';
import { databaseUrl, loginUrl, provisionPostgres, type ProvisionedPostgres } from './postgres.ts';

declare global {
  var checkoutTestPostgres: { postgres: ProvisionedPostgres; template: string } | undefined;
}

async function query(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * Provisions the suite's PostgreSQL and migrates one template database; every test file clones its
 * own database from it. A failure after the server started stops it again (jest runs no global
 * teardown when the global setup throws).
 */
export default async function globalSetup(): Promise<void> {
  const postgres = await provisionPostgres();
  console.log(`\n[test] PostgreSQL: ${postgres.source}`);
  const template = `checkout_template_${randomBytes(4).toString('hex')}`;
  try {
    await query(postgres.adminUrl, `create database ${template}`);
    globalThis.checkoutTestPostgres = { postgres, template };
    const templateUrl = databaseUrl(postgres.adminUrl, template);
    await migrate(templateUrl);
    // Tests connect as the service does: its own login, checkout_app (test/support/database.ts).
    await query(loginUrl(templateUrl, 'checkout_app'), 'select 1').catch((error: Error) => {
      throw new Error(
        `the tests log in as checkout_app without a password, and this server refused it (${error.message}): ` +
          'let it trust connections from this machine (pg_hba.conf "host all all 127.0.0.1/32 trust"), as the embedded and testcontainers servers do',
      );
    });
    process.env.CHECKOUT_TEST_ADMIN_URL = postgres.adminUrl;
    process.env.CHECKOUT_TEST_TEMPLATE = template;
  } catch (error) {
    globalThis.checkoutTestPostgres = undefined;
    await query(postgres.adminUrl, `drop database if exists ${template} with (force)`).catch(() => {});
    await postgres.stop().catch(() => {});
    throw error;
  }
}
