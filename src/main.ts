// `npm start`: the service, with its own PostgreSQL and Stripe simulator when nothing is configured.
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import { startService } from './server.ts';

const [major] = process.versions.node.split('.').map(Number);
if ((major ?? 0) < 24) {
  console.error(`checkout-service needs Node.js 24 or newer (this is ${process.version}); run it through npm (npm start), which uses the Node 24 that npm ci installs.`);
  process.exit(1);
}

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const logger = createLogger(config.LOG_LEVEL);
const service = await startService(config, logger).catch((error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  logger.fatal({ err }, 'checkout-service could not start');
  console.error(`checkout-service could not start: ${err.message}`);
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    void service.close().then(() => process.exit(0));
  });
}

logger.info({ url: service.url, embeddedPostgres: config.embeddedPostgres, stripeSimulator: config.stripeSimulator }, 'checkout-service listening');
if (process.stdout.isTTY || config.embeddedPostgres || config.stripeSimulator) {
  const lines = [
    '',
    `checkout-service is listening on ${service.url}`,
    config.embeddedPostgres
      ? `  PostgreSQL (embedded, data in ${config.DATA_DIR}/postgres): the service logs in as checkout_app (${config.DATA_DIR}/checkout_app.password), the owner is postgres (${config.DATA_DIR}/postgres.password)`
      : '  PostgreSQL: DATABASE_URL',
    service.simulator
      ? `  Stripe: simulator on ${service.simulator.url} (STRIPE_WEBHOOK_SECRET=${service.webhookSecret})`
      : '  Stripe: STRIPE_SECRET_KEY',
    ...(config.demoPage ? [`  Checkout page (DEMO_PAGE): ${service.url}/demo`] : []),
    '',
    'Try it:',
    `  curl -s -X POST ${service.url}/checkout -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s%N)" \\`,
    `    -d '{"customerId":"c-123","items":[{"sku":"MILK-2L","quantity":2},{"sku":"EGGS-12","quantity":1}]}'`,
  ];
  if (service.simulator) {
    lines.push(
      'then pay it with a test card (the simulator sends the signed webhook back here):',
      `  curl -s -X POST ${service.simulator.url}/v1/payment_intents/<paymentIntentId>/confirm -u sk_test_demo: -d payment_method=pm_card_visa`,
      `  curl -s ${service.url}/orders/<orderId>`,
    );
  }
  console.log(`${lines.join('\n')}\n`);
}
