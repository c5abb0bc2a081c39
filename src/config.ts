import { z } from 'zod';
import { minimumCheckoutLeaseSeconds } from './checkout/checkout-lease.ts';
import { STRIPE_MAX_NETWORK_RETRIES, stripeCallWorstCaseMs } from './stripe/client.ts';

const port = z.coerce.number().int().min(0).max(65535);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const kafkaTopic = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name');
const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// URL');

/** Every environment variable the service reads (README "Configuration"), validated at start. */
const schema = z.object({
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // The service's own login (checkout_app); the owner's, for migrations, is DATABASE_OWNER_URL.
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_OWNER_URL: postgresUrl.optional(),
  // Removed (issue 10.4): SET ROLE could be undone with RESET ROLE. Refused, so a deployment that
  // still sets it does not silently keep the service on an owner's login.
  DATABASE_ROLE: z.never({ error: 'removed: DATABASE_URL must log in as the service\'s own role (checkout_app), and DATABASE_OWNER_URL as the owner for migrations' }).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  MIGRATE_ON_START: bool.optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_POSTGRES_PORT: port.default(54329),
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/, 'must be a Stripe secret key (sk_test_… or sk_live_…)').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_[A-Za-z0-9_+/=]+$/, 'must be a webhook signing secret (whsec_…)').optional(),
  STRIPE_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  // The only key the demo page sends to browsers (Stripe.js's Payment Element needs it).
  STRIPE_PUBLISHABLE_KEY: z.string().regex(/^pk_(test|live)_[A-Za-z0-9_]+$/, 'must be a Stripe publishable key (pk_test_… or pk_live_…)').optional(),
  // The checkout page at /demo (issue 13): on by default with the simulator, off with real Stripe keys.
  DEMO_PAGE: bool.optional(),
  STRIPE_SIMULATOR_PORT: port.default(12111),
  // Its control API has no authentication: loopback unless a container must publish it.
  STRIPE_SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // Unset: derived from STRIPE_TIMEOUT_MS (src/checkout/checkout-lease.ts); set: at least that long.
  CHECKOUT_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).optional(),
  KAFKA_BROKERS: z.string().regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'must be host:port[,host:port…]').default('localhost:9092'),
  ORDER_CONFIRMED_TOPIC: kafkaTopic.default('checkout.order-confirmed'),
  ORDER_REFUNDED_TOPIC: kafkaTopic.default('checkout.order-refunded'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(300_000).default(10_000),
  // The HTTP server (src/http/http-server.ts); Node's own defaults hold a slow client for 300 s.
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(30_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(1_024),
  // Background jobs (src/jobs). A pending order is reconciled with Stripe after
  // PAYMENT_RECONCILE_AFTER_SECONDS and expired after ORDER_EXPIRE_AFTER_SECONDS; 0 disables the scheduler.
  JOBS_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  ORDER_EXPIRE_AFTER_SECONDS: z.coerce.number().int().min(0).max(30 * 86_400).default(3600),
  PAYMENT_RECONCILE_AFTER_SECONDS: z.coerce.number().int().min(0).max(30 * 86_400).default(600),
  // PaymentIntents that failed checkout attempts may have left are searched for this long after the
  // order's checkout last called Stripe (src/jobs/sweep-orphan-payment-intents.ts). Stripe's search
  // lags "under 1 minute" normally (https://docs.stripe.com/search#data-freshness): not less than that.
  PAYMENT_INTENT_SWEEP_AFTER_SECONDS: z.coerce.number().int().min(60).max(86_400).default(600),
  // At most this many orders per job run, so that a backlog costs a bounded number of Stripe calls.
  JOBS_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(100),
  // Outbox rows older than this, and behind the replication slot, are deleted (src/jobs/purge-outbox.ts).
  OUTBOX_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(7),
});

export type Config = Omit<z.infer<typeof schema>, 'CHECKOUT_LEASE_SECONDS'> & {
  CHECKOUT_LEASE_SECONDS: number;
  /** True when no DATABASE_URL is given: the service runs its own PostgreSQL. */
  embeddedPostgres: boolean;
  /** True when no STRIPE_SECRET_KEY is given: the service serves and uses the Stripe simulator. */
  stripeSimulator: boolean;
  /** Whether Stripe events must say livemode: true (a live key) or false. */
  stripeLivemode: boolean;
  /** Whether /demo serves the checkout page (DEMO_PAGE, by default only with the simulator). */
  demoPage: boolean;
};

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as in most shells' `VAR= command`.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  if (config.STRIPE_SECRET_KEY && !config.STRIPE_WEBHOOK_SECRET) {
    throw new ConfigError('Invalid configuration:\n  STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set (the endpoint secret of the webhook in the Stripe dashboard)');
  }
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError('Invalid configuration:\n  HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)');
  }
  if (config.DATABASE_OWNER_URL && !config.DATABASE_URL) {
    throw new ConfigError('Invalid configuration:\n  DATABASE_OWNER_URL: set it together with DATABASE_URL (without DATABASE_URL the embedded PostgreSQL has its own logins)');
  }
  if (config.MIGRATE_ON_START && config.DATABASE_URL && !config.DATABASE_OWNER_URL) {
    throw new ConfigError('Invalid configuration:\n  MIGRATE_ON_START: true needs DATABASE_OWNER_URL (migrations run as the schema owner, not as the service\'s login DATABASE_URL)');
  }
  // The jobs hold one pooled connection for their advisory lock while they query through another.
  if (config.JOBS_INTERVAL_SECONDS > 0 && config.DATABASE_POOL_SIZE < 2) {
    throw new ConfigError('Invalid configuration:\n  DATABASE_POOL_SIZE: must be at least 2 when JOBS_INTERVAL_SECONDS > 0 (background jobs)');
  }
  const demoPage = config.DEMO_PAGE ?? !config.STRIPE_SECRET_KEY;
  if (demoPage && config.STRIPE_SECRET_KEY && !config.STRIPE_PUBLISHABLE_KEY) {
    throw new ConfigError('Invalid configuration:\n  STRIPE_PUBLISHABLE_KEY: required when DEMO_PAGE=true with STRIPE_SECRET_KEY (the page pays through Stripe.js, which takes the publishable key of the same account)');
  }
  if (!config.STRIPE_SECRET_KEY && config.STRIPE_PUBLISHABLE_KEY?.includes('_live_')) {
    throw new ConfigError('Invalid configuration:\n  STRIPE_PUBLISHABLE_KEY: the Stripe simulator (no STRIPE_SECRET_KEY) takes test keys only (pk_test_…)');
  }
  if (config.STRIPE_SECRET_KEY && config.STRIPE_PUBLISHABLE_KEY
    && config.STRIPE_SECRET_KEY.includes('_live_') !== config.STRIPE_PUBLISHABLE_KEY.includes('_live_')) {
    throw new ConfigError('Invalid configuration:\n  STRIPE_PUBLISHABLE_KEY: must be of the same mode (test or live) as STRIPE_SECRET_KEY');
  }
  const minimumLease = minimumCheckoutLeaseSeconds(config.STRIPE_TIMEOUT_MS);
  if (config.CHECKOUT_LEASE_SECONDS !== undefined && config.CHECKOUT_LEASE_SECONDS < minimumLease) {
    const attempts = STRIPE_MAX_NETWORK_RETRIES + 1;
    throw new ConfigError(
      `Invalid configuration:\n  CHECKOUT_LEASE_SECONDS: ${config.CHECKOUT_LEASE_SECONDS} s is shorter than the longest a POST /checkout may need ` +
        `with STRIPE_TIMEOUT_MS=${config.STRIPE_TIMEOUT_MS} (two Stripe calls, a search and a create, of ${attempts} attempts each with their back-off, ` +
        `${stripeCallWorstCaseMs(config.STRIPE_TIMEOUT_MS)} ms per call, then attaching the PaymentIntent: ${minimumLease} s); ` +
        `set CHECKOUT_LEASE_SECONDS to at least ${minimumLease} or lower STRIPE_TIMEOUT_MS`,
    );
  }
  return {
    ...config,
    CHECKOUT_LEASE_SECONDS: config.CHECKOUT_LEASE_SECONDS ?? minimumLease,
    embeddedPostgres: !config.DATABASE_URL,
    stripeSimulator: !config.STRIPE_SECRET_KEY,
    stripeLivemode: Boolean(config.STRIPE_SECRET_KEY?.includes('_live_')),
    demoPage,
  };
}
