// The service's pool (src/db/pool.ts) keeps its connections through a lull: a connection closed
// when idle made the next requests pay a new backend and its first PL/pgSQL calls (issue 12).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'slonik';
import { z } from 'zod';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

const backend = () => db.app.oneFirst(sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`);

describe("the service's database pool", () => {
  it('keeps an idle connection open past slonik’s default 5 s idle timeout', async () => {
    const before = await backend();
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    expect(await backend()).toBe(before);
  }, 20_000);
});
