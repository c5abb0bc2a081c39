import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../log.ts';
import { methodLabel, type Metrics } from './metrics.ts';
import { printableExcerpt } from './text.ts';

const acceptableRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request id (from X-Request-Id when sane), a child logger, one access log line and the HTTP metrics. */
export function requestContext(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const given = ctx.get('x-request-id');
    const requestId = acceptableRequestId.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The route pattern, not the path: /orders/:orderId keeps the label set small.
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      const labels = { method: methodLabel(ctx.method), route, status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      // The path is the client's choice (up to the 16 KiB header limit): logged bounded and printable.
      ctx.state.log.info({ method: labels.method, path: printableExcerpt(ctx.path, 256), route, status: ctx.status, ms: Math.round(seconds * 1000) }, 'request');
    }
  };
}
