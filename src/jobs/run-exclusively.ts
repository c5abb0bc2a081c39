import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

export type Exclusive<T> = { ran: true; result: T } | { ran: false };

/**
 * Runs `work` only if no other session (another instance of the service, or an overlapping run)
 * holds the advisory lock `lockName`; otherwise skips. The lock is session-level, on a connection
 * taken for the run, so no transaction stays open while `work` waits on Stripe; `work` itself
 * queries through the pool. Should the unlock fail, the error leaves this handler and slonik destroys
 * the connection instead of returning it to the pool, which ends the session and its lock.
 */
export async function runExclusively<T>(pool: DatabasePool, lockName: string, work: () => Promise<T>): Promise<Exclusive<T>> {
  return pool.connect(async (connection) => {
    const key = sql.fragment`hashtextextended(${`checkout.jobs:${lockName}`}, 0)`;
    const locked = await connection.oneFirst(sql.type(z.object({ locked: z.boolean() }))`select pg_try_advisory_lock(${key}) as locked`);
    if (!locked) return { ran: false };
    try {
      return { ran: true, result: await work() };
    } finally {
      await connection.query(sql.unsafe`select pg_advisory_unlock(${key})`);
    }
  });
}
