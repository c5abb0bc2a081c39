// Shared by the benchmarks: a database of their own on a real PostgreSQL, and a bounded load loop.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { seedDemoCatalog } from '../src/db/demo-catalog.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDatabasePool } from '../src/db/pool.ts';
import { loginUrl, provisionPostgres } from '../test/support/postgres.ts';

export type LoadResult = { perSecond: number; p50: number; p95: number; p99: number };

/** `count` calls of `task`, `parallel` at a time; throughput and latency percentiles (ms). */
export async function runLoad<T>(count: number, parallel: number, task: (i: number) => Promise<T>): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await task(i);
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { perSecond: count / seconds, p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/**
 * A new database on BENCH_DATABASE_URL, else on the server the test suite would use (TEST_DATABASE_URL,
 * Docker, or an embedded PostgreSQL of its own, durable), migrated and with the demo catalog; `url` is
 * the owner's, `serviceUrl` the checkout_app login the service uses; drop() removes it all.
 */
export async function createBenchDatabase(): Promise<{ url: string; serviceUrl: string; server: string; drop(): Promise<void> }> {
  const provisioned = process.env.BENCH_DATABASE_URL ? undefined : await provisionPostgres({ durable: true });
  const adminUrl = process.env.BENCH_DATABASE_URL ?? provisioned!.adminUrl;
  const database = `checkout_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query(text).finally(() => client.end());
  };
  await admin(`create database ${database}`);
  const url = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).toString();
  const drop = async () => {
    await admin(`drop database if exists ${database} with (force)`);
    await provisioned?.stop();
  };
  try {
    await migrate(url);
    const owner = await createDatabasePool(url, { maxPoolSize: 1 });
    await seedDemoCatalog(owner).finally(() => owner.end());
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, serviceUrl: loginUrl(url, 'checkout_app'), server: new URL(adminUrl).host, drop };
}
