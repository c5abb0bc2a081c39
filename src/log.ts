import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs (stdout unless the tests give another destination); secrets and client secrets are
 * masked wherever they appear in a logged object.
 * Written synchronously, one write(2) per line, as Node writes process.stdout itself when it is a
 * file or a pipe on Linux. pino's default (sonic-boom, sync: false, no buffer) hands every line to a
 * libuv worker thread instead: a thread wake-up and a completion per line, more CPU per request
 * than the write (bench/README.md), and the lines not yet written are lost on a crash.
 */
export function createLogger(level: string, destination: DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
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
  }, destination);
}
