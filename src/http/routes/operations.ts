import Router from '@koa/router';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { migrationsTable, shippedMigrations } from '../../db/migrate.ts';
import type { Metrics } from '../metrics.ts';
import { openApiDocument } from '../openapi.ts';

export function operationsRoutes(deps: { pool: DatabasePool; metrics: Metrics }) {
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const shipped = await shippedMigrations();
    let applied: readonly string[];
    try {
      applied = await deps.pool.anyFirst(sql.type(z.object({ name: z.string() }))`
        select name from ${sql.identifier(['public', migrationsTable])} order by run_on, id`);
    } catch (error) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', database: 'unreachable', detail: (error as Error).message.split('\n')[0] };
      return;
    }
    const pending = shipped.filter((name) => !applied.includes(name));
    ctx.status = pending.length === 0 ? 200 : 503;
    ctx.body = { status: pending.length === 0 ? 'ready' : 'migrations pending', database: 'ok', pendingMigrations: pending };
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument;
  });

  return router;
}
