import Koa from 'koa';
import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import { outboxDeliveryStatus, transitionCounts } from '../db/checkout-functions.ts';
import type { Logger } from '../log.ts';
import { closeAfterUnreadBody } from './http-server.ts';
import { createMetrics, registerOutboxGauges, registerTransitionGauge, type Metrics } from './metrics.ts';
import { problemMiddleware } from './problem.ts';
import { requestContext } from './request-context.ts';
import { checkoutRoutes } from './routes/checkout.ts';
import { demoPageRoutes, type DemoPageOptions } from './routes/demo-page.ts';
import { operationsRoutes } from './routes/operations.ts';
import { orderRoutes } from './routes/orders.ts';
import { productRoutes } from './routes/products.ts';
import { stripeWebhookRoutes } from './routes/stripe-webhooks.ts';

export type AppDependencies = {
  pool: DatabasePool;
  stripe: Stripe;
  logger: Logger;
  webhookSecret: string;
  stripeLivemode: boolean;
  checkoutLeaseSeconds: number;
  /** The checkout page at /demo (DEMO_PAGE); undefined: not served. */
  demoPage?: DemoPageOptions | undefined;
};

export function createApp(deps: AppDependencies): { app: Koa; metrics: Metrics; routers: ReturnType<typeof allRouters> } {
  const metrics = createMetrics();
  registerTransitionGauge(metrics, () => transitionCounts(deps.pool));
  registerOutboxGauges(metrics, () => outboxDeliveryStatus(deps.pool));
  const app = new Koa({ proxy: false });
  // Errors are answered by problemMiddleware; Koa's own default handler would log them twice.
  app.silent = true;
  app.use(closeAfterUnreadBody);
  app.use(requestContext(deps.logger, metrics));
  app.use(problemMiddleware(deps.logger));
  const routers = allRouters(deps, metrics);
  // The page is for people, not part of the API: outside `routers`, which the OpenAPI document covers.
  const pages = deps.demoPage ? [demoPageRoutes(deps.demoPage)] : [];
  for (const router of [...routers, ...pages]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return { app, metrics, routers };
}

function allRouters(deps: AppDependencies, metrics: Metrics) {
  return [
    checkoutRoutes({ pool: deps.pool, stripe: deps.stripe, metrics, leaseSeconds: deps.checkoutLeaseSeconds }),
    orderRoutes({ pool: deps.pool }),
    productRoutes({ pool: deps.pool }),
    stripeWebhookRoutes({
      pool: deps.pool, stripe: deps.stripe, webhookSecret: deps.webhookSecret, livemode: deps.stripeLivemode, metrics,
    }),
    operationsRoutes({ pool: deps.pool, metrics }),
  ];
}
