import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { StripeSimulator } from '@checkout-service/stripe-simulator';
import type { DatabasePool } from 'slonik';
import type Stripe from 'stripe';
import type { Config } from './config.ts';
import { seedDemoCatalog } from './db/demo-catalog.ts';
import { migrate } from './db/migrate.ts';
import { createDatabasePool } from './db/pool.ts';
import { assertServiceLogin } from './db/service-login.ts';
import { ensureDataDir } from './embedded/data-dir.ts';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded/postgres.ts';
import { startEmbeddedStripeSimulator } from './embedded/stripe-simulator.ts';
import { startPendingOrderJobs } from './jobs/start-pending-order-jobs.ts';
import { createApp } from './http/app.ts';
import { demoPageOptions } from './http/routes/demo-page.ts';
import { listenHttp } from './http/http-server.ts';
import type { Logger } from './log.ts';
import { createStripeClient } from './stripe/client.ts';

export type RunningService = {
  url: string;
  databaseUrl: string;
  webhookSecret: string;
  simulator: StripeSimulator | undefined;
  stripe: Stripe;
  pool: DatabasePool;
  server: Server;
  close(): Promise<void>;
};

/** Starts everything the configuration asks for, in dependency order; close() stops it in reverse. */
export async function startService(config: Config, logger: Logger): Promise<RunningService> {
  const stops: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => logger.warn({ err: error }, 'shutdown step failed'));
  };
  try {
    // Both embedded defaults keep files there; the simulator needs it with DATABASE_URL set too.
    if (config.embeddedPostgres || config.stripeSimulator) await ensureDataDir(config.DATA_DIR);
    let embedded: EmbeddedDatabase | undefined;
    if (config.embeddedPostgres) {
      embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR, port: config.EMBEDDED_POSTGRES_PORT, log: logger });
      stops.push(() => embedded!.stop());
    }
    // Migrations and the demo catalog as the owner; the service itself logs in as checkout_app.
    const ownerUrl = embedded?.ownerUrl ?? config.DATABASE_OWNER_URL;
    if (config.MIGRATE_ON_START ?? config.embeddedPostgres) {
      // loadConfig refuses MIGRATE_ON_START without an owner's URL.
      await migrate(ownerUrl!, { log: (message) => logger.debug({ migration: message }, 'migrate') });
    }
    if (embedded) {
      const owner = await createDatabasePool(embedded.ownerUrl, { maxPoolSize: 1 });
      await seedDemoCatalog(owner).finally(() => owner.end());
    }

    const databaseUrl = embedded ? await embedded.serviceLogin() : config.DATABASE_URL!;
    const pool = await createDatabasePool(databaseUrl, { maxPoolSize: config.DATABASE_POOL_SIZE });
    stops.push(() => pool.end());
    await assertServiceLogin(pool);

    let simulator: StripeSimulator | undefined;
    let webhookSecret: string;
    let stripe: Stripe;
    if (config.stripeSimulator) {
      simulator = await startEmbeddedStripeSimulator(config, logger);
      webhookSecret = simulator.webhookSecret;
      stops.push(() => simulator!.close());
      stripe = createStripeClient({ secretKey: 'sk_test_simulator', apiUrl: simulator.url, timeoutMs: config.STRIPE_TIMEOUT_MS });
    } else {
      webhookSecret = config.STRIPE_WEBHOOK_SECRET!;
      stripe = createStripeClient({ secretKey: config.STRIPE_SECRET_KEY!, apiUrl: config.STRIPE_API_URL, timeoutMs: config.STRIPE_TIMEOUT_MS });
    }

    const { app, metrics } = createApp({
      pool, stripe, logger, webhookSecret, stripeLivemode: config.stripeLivemode, checkoutLeaseSeconds: config.CHECKOUT_LEASE_SECONDS,
      demoPage: config.demoPage ? demoPageOptions(config, simulator?.url) : undefined,
    });
    const server = await listenHttp(app, {
      port: config.PORT, host: config.HOST,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS, headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS, maxConnections: config.HTTP_MAX_CONNECTIONS,
    }, logger);
    stops.push(() => closeServer(server, config.SHUTDOWN_TIMEOUT_MS));
    const { port } = server.address() as AddressInfo;
    const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
    simulator?.setWebhookUrl(`${url}/webhooks/stripe`);

    // Background jobs start once the app listens, so webhooks caused by their Stripe calls are received.
    if (config.JOBS_INTERVAL_SECONDS > 0) {
      const jobs = startPendingOrderJobs({ pool, stripe, logger, metricsRegistry: metrics.registry }, config);
      stops.push(() => jobs.stop());
    }

    return { url, databaseUrl, webhookSecret, simulator, stripe, pool, server, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Stops accepting connections, lets in-flight requests finish, then cuts what is left. */
function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
