// The SQL peer at a rate (bench/sql-limit.ts), the half-peak HTTP legs' latency peer: open loop,
// each transaction's latency counted from when it was due, so a stalled database shows in the
// percentiles of every transaction that waited for it, not only of the one that was running
// ("coordinated omission"), and the first second, while each new connection compiles the
// functions, left out. Both drivers: pgbench, and node-postgres where pgbench is not installed.
import { afterAll, beforeAll, describe, expect, it as itWhereAvailable } from '@jest/globals';
import pg from 'pg';
import { createBenchDatabase, type BenchDatabase } from '../../bench/bench-database.ts';
import { pgbenchAvailable, runSqlLimit, RATE_WARM_UP_MS } from '../../bench/sql-limit.ts';
import { adminServerUrl } from '../support/database.ts';
import { useEnv } from '../support/env.ts';

let database: BenchDatabase;
useEnv('BENCH_DATABASE_URL', adminServerUrl);
beforeAll(async () => void (database = await createBenchDatabase()));
afterAll(async () => database?.drop());

/** Blocks create_order's insert (SHARE against its ROW EXCLUSIVE) from `fromMs` for `forMs`. */
async function lockOrders(fromMs: number, forMs: number): Promise<void> {
  const owner = new pg.Client({ connectionString: database.url });
  await owner.connect();
  try {
    await new Promise((resolve) => setTimeout(resolve, fromMs));
    await owner.query('begin');
    await owner.query('lock table checkout.orders in share mode');
    await new Promise((resolve) => setTimeout(resolve, forMs));
    await owner.query('commit');
  } finally {
    await owner.end();
  }
}

const drivers = [
  { name: 'pgbench', path: () => process.env.PATH ?? '', available: pgbenchAvailable() },
  // No pgbench on this PATH: the Node driver.
  { name: 'node-postgres', path: () => '/nonexistent', available: true },
];

describe.each(drivers)('the SQL at a rate, through $name', ({ name, path, available }) => {
  useEnv('PATH', path);
  // Without pgbench on the machine its tests are reported as skipped; the Node driver's still run.
  const it = available ? itWhereAvailable : itWhereAvailable.skip;
  let run = 0;
  const runId = () => `${name}-${++run}`;

  it('keeps the rate, and names it', async () => {
    const started = performance.now();
    const result = await runSqlLimit('checkout', runId(), database.serviceUrl, 2, 30, '{}', 30);
    // 60 transactions due over 2 s at 30/s.
    expect(performance.now() - started).toBeGreaterThan(1_800);
    expect(result.transactions).toBe(60);
    expect(result.driver).toMatch(name === 'pgbench' ? /--rate 30$/ : /at 30\/s/);
  });

  it('counts the wait of every transaction due while the database stalled, from its due time', async () => {
    // 1 client at 20/s for 4 s; the orders table locked for 1 s from 1.5 s on.
    const [result] = await Promise.all([
      runSqlLimit('checkout', runId(), database.serviceUrl, 1, 80, '{}', 20),
      lockOrders(1_500, 1_000),
    ]);
    // ~20 of the ~60 transactions counted were due during the stall; counted from when each was
    // sent, only the one running when it began would be slow.
    expect(result.p95).toBeGreaterThan(300);
  });

  it(`leaves out the transactions due in the first ${RATE_WARM_UP_MS} ms`, async () => {
    const [result] = await Promise.all([
      runSqlLimit('checkout', runId(), database.serviceUrl, 1, 60, '{}', 20),
      lockOrders(0, 700),
    ]);
    // Those due in the first 0.7 s waited up to 0.7 s for the lock; none of them is counted.
    expect(result.p99).toBeLessThan(300);
  });
});
