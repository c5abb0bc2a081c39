import { z } from 'zod';

export interface CliConfig {
  port: number;
  host: string;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  stateFile: string | undefined;
  logLevel: string;
}

const schema = z.object({
  STRIPE_SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(12111),
  STRIPE_SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  STRIPE_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_\S+$/, 'must start with whsec_ and contain no spaces').optional(),
  STRIPE_SIMULATOR_STATE_FILE: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Reads the simulator's environment; an error message names each bad variable. */
export function parseCliConfig(env: NodeJS.ProcessEnv): { ok: true; config: CliConfig } | { ok: false; errors: string[] } {
  // An empty variable means "unset", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    return { ok: false, errors: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
  }
  const e = result.data;
  return {
    ok: true,
    config: {
      port: e.STRIPE_SIMULATOR_PORT,
      host: e.STRIPE_SIMULATOR_HOST,
      webhookUrl: e.STRIPE_WEBHOOK_URL,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
      stateFile: e.STRIPE_SIMULATOR_STATE_FILE,
      logLevel: e.LOG_LEVEL,
    },
  };
}
