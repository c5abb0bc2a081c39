import pg from 'pg';

/** Drops the template and stops the server the global setup provisioned (jest runs this after failed tests too). */
export default async function globalTeardown(): Promise<void> {
  const state = globalThis.checkoutTestPostgres;
  if (!state) return;
  try {
    const admin = new pg.Client({ connectionString: state.postgres.adminUrl });
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${state.template} with (force)`);
    } finally {
      await admin.end();
    }
  } finally {
    await state.postgres.stop();
  }
}
