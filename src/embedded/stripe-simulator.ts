import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StripeSimulator } from '@checkout-service/stripe-simulator';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';

/**
 * The Stripe simulator of the embedded default (no STRIPE_SECRET_KEY), its files in DATA_DIR
 * (created by the caller). The package is a dev tool: it is imported here, dynamically, so a
 * production start never loads it.
 */
export async function startEmbeddedStripeSimulator(config: Config, logger: Logger): Promise<StripeSimulator> {
  // The package ships TypeScript sources. Node refuses to strip types under node_modules
  // (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), but resolves the workspace link
  // node_modules/@checkout-service/stripe-simulator to its real path, packages/stripe-simulator.
  const { startStripeSimulator } = await import('@checkout-service/stripe-simulator');
  return startStripeSimulator({
    port: config.STRIPE_SIMULATOR_PORT,
    host: config.STRIPE_SIMULATOR_HOST,
    webhookSecret: await webhookSecret(config),
    logger,
    stateFile: await journalFile(config.DATA_DIR),
  });
}

/** The simulator's webhook secret, kept under DATA_DIR so Stripe CLI-style setups survive restarts. */
async function webhookSecret(config: Config): Promise<string> {
  if (config.STRIPE_WEBHOOK_SECRET) return config.STRIPE_WEBHOOK_SECRET;
  const file = join(config.DATA_DIR, 'stripe-simulator.webhook-secret');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const secret = `whsec_${randomBytes(24).toString('base64url').replace(/[-_]/g, '0')}`;
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** The journal; a DATA_DIR from before the journal has a whole-state JSON file, which the journal reads once. */
async function journalFile(dataDir: string): Promise<string> {
  const journal = join(dataDir, 'stripe-simulator.jsonl');
  const previous = join(dataDir, 'stripe-simulator.json');
  if (!existsSync(journal) && existsSync(previous)) await rename(previous, journal);
  return journal;
}
