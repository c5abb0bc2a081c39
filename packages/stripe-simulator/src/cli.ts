#!/usr/bin/env node
// Standalone Stripe simulator: `npm run stripe-simulator` (or the package's `stripe-simulator` bin).
// Env: STRIPE_SIMULATOR_PORT (12111), STRIPE_SIMULATOR_HOST (127.0.0.1), STRIPE_WEBHOOK_URL,
// STRIPE_WEBHOOK_SECRET (generated and printed when unset), STRIPE_SIMULATOR_STATE_FILE (a journal
// that keeps the state across restarts; none by default), LOG_LEVEL.
import pino from 'pino';
import { parseCliConfig } from './cli-config.ts';
import { newWebhookSecret } from './ids.ts';
import { startStripeSimulator } from './server.ts';

const parsed = parseCliConfig(process.env);
if (!parsed.ok) {
  process.stderr.write(`stripe-simulator: invalid configuration:\n${parsed.errors.map((e) => `  ${e}`).join('\n')}\n`);
  process.exit(2);
}
const { config } = parsed;
const logger = pino({ level: config.logLevel });
const webhookSecret = config.webhookSecret ?? newWebhookSecret();

const simulator = await startStripeSimulator({
  port: config.port,
  host: config.host,
  webhookSecret,
  logger,
  ...(config.webhookUrl ? { webhookUrl: config.webhookUrl } : {}),
  ...(config.stateFile ? { stateFile: config.stateFile } : {}),
}).catch((error: unknown) => {
  process.stderr.write(`stripe-simulator: could not start (${config.host}:${config.port}${config.stateFile ? `, state file ${config.stateFile}` : ''}): ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

process.stdout.write([
  `Stripe simulator listening on ${simulator.url} (Stripe API under /v1, control API under /_simulator)`,
  `  SDK: new Stripe('sk_test_anything', { host: '${simulator.host}', port: ${simulator.port}, protocol: 'http' })`,
  `  Webhooks: ${config.webhookUrl ?? '(none: set STRIPE_WEBHOOK_URL; events are only recorded)'}`,
  config.webhookSecret ? '  Webhook secret: from STRIPE_WEBHOOK_SECRET' : `  Webhook secret (generated): ${webhookSecret}`,
  '',
].join('\n'));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stripe simulator stopping');
    simulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stripe simulator did not close cleanly');
        process.exit(1);
      },
    );
  });
}
