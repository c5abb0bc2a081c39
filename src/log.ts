import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs; secrets and client secrets are masked wherever they appear in a logged object. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'checkout-service' },
    redact: {
      paths: [
        'clientSecret', '*.clientSecret', 'client_secret', '*.client_secret',
        'req.headers.authorization', 'req.headers["stripe-signature"]', 'req.headers.cookie',
        'config.STRIPE_SECRET_KEY', 'config.STRIPE_WEBHOOK_SECRET', 'config.DATABASE_URL',
      ],
      censor: '[redacted]',
    },
  });
}
