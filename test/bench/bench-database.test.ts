// The bench's database (bench/bench-database.ts): every leg starts after vacuum(), so a vacuum that
// missed a table, or left its statistics stale, would let autovacuum fall on some legs and not on
// others again, and the ratios would judge the service against a database in another state.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createBenchDatabase, type BenchDatabase } from '../../bench/bench-database.ts';
import { adminServerUrl } from '../support/database.ts';
import { useEnv } from '../support/env.ts';

type TableStats = { name: string; vacuums: number; analyzes: number; modifiedSinceAnalyze: number };

async function checkoutTableStats(url: string): Promise<TableStats[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<TableStats>(
      `select relname as name, vacuum_count::int as vacuums, analyze_count::int as analyzes, n_mod_since_analyze::int as "modifiedSinceAnalyze"
         from pg_stat_user_tables where schemaname = 'checkout' order by relname`,
    );
    return rows;
  } finally {
    await client.end();
  }
}

describe('the bench database', () => {
  let database: BenchDatabase;
  useEnv('BENCH_DATABASE_URL', adminServerUrl);
  beforeAll(async () => void (database = await createBenchDatabase()));
  afterAll(async () => database?.drop());

  it('vacuum() vacuums and analyzes every table of schema checkout, as their owner', async () => {
    const before = await checkoutTableStats(database.url);
    expect(before.map((t) => t.name)).toEqual(expect.arrayContaining(['orders', 'order_lines', 'order_status_history', 'outbox', 'stripe_events', 'products']));
    // The demo catalog was just seeded: its rows are not analyzed yet.
    expect(before.find((t) => t.name === 'products')!.modifiedSinceAnalyze).toBeGreaterThan(0);

    await database.vacuum();

    const after = await checkoutTableStats(database.url);
    expect(after.map((t) => t.name)).toEqual(before.map((t) => t.name));
    after.forEach((table, i) => {
      expect({ table: table.name, vacuums: table.vacuums - before[i]!.vacuums, analyzes: table.analyzes - before[i]!.analyzes, modified: table.modifiedSinceAnalyze })
        .toEqual({ table: table.name, vacuums: 1, analyzes: 1, modified: 0 });
    });
  });

  it('autovacuumPasses() counts autovacuum and autoanalyze passes, not the bench\'s own VACUUM', async () => {
    const passes = await database.autovacuumPasses();
    expect(Number.isInteger(passes)).toBe(true);
    await database.vacuum();
    // A manual VACUUM (ANALYZE) is counted in vacuum_count and analyze_count, not in the autovacuum
    // columns. (Autovacuum could run meanwhile on its own; on freshly vacuumed tables it has no cause.)
    expect(await database.autovacuumPasses()).toBe(passes);
  });
});
