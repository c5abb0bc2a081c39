import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.checkoutTestPostgres;
  if (!state) return;
  const admin = new pg.Client({ connectionString: state.postgres.adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${state.template} with (force)`);
  } finally {
    await admin.end();
  }
  await state.postgres.stop();
}
