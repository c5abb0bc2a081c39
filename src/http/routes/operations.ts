import Router from '@koa/router';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { migrationsTable, shippedMigrations } from '../../db/migrate.ts';
import type { Metrics } from '../metrics.ts';
import { openApiDocument } from '../openapi.ts';
import { healthResponseSchema, readinessResponseSchema, sendJson } from '../responses.ts';

export function operationsRoutes(deps: { pool: DatabasePool; metrics: Metrics }) {
  const router = new Router();

  router.get('/healthz', (ctx) => {
    sendJson(ctx, 200, healthResponseSchema, { status: 'ok' });
  });

  router.get('/readyz', async (ctx) => {
    const shipped = await shippedMigrations();
    let applied: readonly string[];
    try {
      applied = await deps.pool.anyFirst(sql.type(z.object({ name: z.string() }))`
        select name from ${sql.identifier(['public', migrationsTable])} order by run_on, id`);
    } catch (error) {
      sendJson(ctx, 503, readinessResponseSchema, { status: 'unavailable', database: 'unreachable', detail: (error as Error).message.split('\n')[0] });
      return;
    }
    const pending = shipped.filter((name) => !applied.includes(name));
    sendJson(ctx, pending.length === 0 ? 200 : 503, readinessResponseSchema, {
      status: pending.length === 0 ? 'ready' : 'migrations pending', database: 'ok', pendingMigrations: pending,
    });
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
