import { createPool, SchemaValidationError, type DatabasePool, type Interceptor } from 'slonik';

/**
 * Slonik only checks rows against `sql.type(schema)` when an interceptor does it
 * (slonik README, "Result parser interceptor"); without this a schema is a type cast.
 */
const resultParserInterceptor: Interceptor = {
  name: 'result-parser',
  transformRowAsync: async (context, query, row) => {
    const parser = context.resultParser;
    if (!parser) return row;
    const result = await parser['~standard'].validate(row);
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as typeof row;
  },
};

export type PoolOptions = {
  maxPoolSize?: number;
  statementTimeoutMs?: number;
};

/** Adds `-c statement_timeout=…` (and the like) to the connection's startup options. */
export function withSessionSettings(databaseUrl: string, settings: Record<string, string>): string {
  const url = new URL(databaseUrl);
  const extra = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  const options = [url.searchParams.get('options'), ...extra].filter(Boolean).join(' ');
  if (options) url.searchParams.set('options', options);
  return url.toString();
}

export async function createDatabasePool(databaseUrl: string, options: PoolOptions = {}): Promise<DatabasePool> {
  // No SET ROLE: the login itself is the role whose privileges apply (issue 10.4), since any SET
  // ROLE can be undone by the session with RESET ROLE.
  const settings: Record<string, string> = {};
  if (options.statementTimeoutMs) settings.statement_timeout = String(options.statementTimeoutMs);
  const pool = await createPool(withSessionSettings(databaseUrl, settings), {
    interceptors: [resultParserInterceptor],
    maxPoolSize: options.maxPoolSize ?? 10,
    connectionTimeout: 5_000,
    // Retries belong to src/db/retry.ts, where they are jittered and limited to transient errors.
    connectionRetryLimit: 0,
    // Slonik's default runs DISCARD ALL whenever a connection goes back to the pool: one more round
    // trip per query, and its DISCARD PLANS makes every PL/pgSQL function plan each of its statements
    // again on its next call (PostgreSQL docs, DISCARD; "Plan Caching" in PL/pgSQL). Nothing here
    // leaves session state behind: settings are set_config(…, true) and locks pg_advisory_xact_lock,
    // transaction-scoped; the jobs' session lock is unlocked explicitly, and a connection whose
    // handler throws is destroyed by slonik, not returned (issue 12).
    resetConnection: async () => {},
    // Slonik closes a connection after 5 s idle by default: after any lull the next requests paid a
    // new connection each, and in each new backend the first call of every PL/pgSQL function (its
    // compilation and plans) and of every prepared statement. Measured at 200 checkouts/s after 20 s
    // idle: p99 116–217 ms against 28–52 ms without the lull (bench/README.md). Connections stay
    // open instead, at most DATABASE_POOL_SIZE, renewed by slonik's maximumConnectionAge (30 min).
    idleTimeout: 'DISABLE_TIMEOUT',
    captureStackTrace: false,
  });
  // slonik emits a query's error on the pool (`error`) before it rethrows it to the caller, who
  // handles it (src/db/errors.ts, src/http/problem.ts). With no listener, Node's emit() throws the
  // error there instead, and one from another realm (Jest's VM modules) it wraps as "Unhandled
  // error", hiding its class: a pooled connection killed by a database outage then answered 500,
  // not 503 (test/http/stripe-webhooks-outage.test.ts: 2 runs in 54 under load).
  pool.on('error', () => {});
  return pool;
}
