// Helpers for tests that drive the simulator: an SDK client pointed at it, a client of its control
// API for a simulator in another process, and a webhook receiver that verifies signatures with the
// official SDK the way the service does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import type { StripeEvent } from './events.ts';
import type { FaultSpec } from './faults.ts';
import type { HoldRule, WebhookConfig } from './webhook-delivery.ts';

export function stripeClientFor(simulator: { host: string; port: number }, options: { apiKey?: string; timeout?: number; maxNetworkRetries?: number } = {}): Stripe {
  return new Stripe(options.apiKey ?? 'sk_test_simulator', {
    host: simulator.host,
    port: simulator.port,
    protocol: 'http',
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
  });
}

export interface ReceivedWebhook {
  event: StripeEvent | undefined;
  verified: boolean;
  error: string | undefined;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Verified events in arrival order. */
  events(): StripeEvent[];
  close(): Promise<void>;
}

/**
 * Answers 400 to a bad signature (like the service), otherwise whatever `respond` says (default
 * 200); `respond` gets the verified event and how many times this event id arrived so far.
 */
export async function startWebhookReceiver(input: {
  secret: string;
  respond?: (event: StripeEvent, seenBefore: number) => number | Promise<number>;
}): Promise<WebhookReceiver> {
  const verifier = new Stripe('sk_test_receiver');
  const received: ReceivedWebhook[] = [];
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const entry: ReceivedWebhook = { event: undefined, verified: false, error: undefined, headers: req.headers, rawBody, status: 400 };
        received.push(entry);
        try {
          const signature = req.headers['stripe-signature'];
          entry.event = verifier.webhooks.constructEvent(rawBody, typeof signature === 'string' ? signature : '', input.secret) as unknown as StripeEvent;
          entry.verified = true;
          const before = seen.get(entry.event.id) ?? 0;
          seen.set(entry.event.id, before + 1);
          entry.status = input.respond ? await input.respond(entry.event, before) : 200;
        } catch (error) {
          entry.error = error instanceof Error ? error.message : String(error);
        }
        res.writeHead(entry.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ received: entry.verified }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    events: () => received.filter((r) => r.verified && r.event).map((r) => r.event as StripeEvent),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A fault as JSON: a path pattern travels as text. */
export type FaultJson = FaultSpec extends infer F ? (F extends FaultSpec ? Omit<F, 'path'> & { path?: string; pathPattern?: string } : never) : never;

export interface SimulatorControl {
  clock(): Promise<{ now: number; offsetSeconds: number }>;
  /** Moves the simulated clock forward (e.g. past Stripe's 24 hours of idempotency). */
  advanceClock(seconds: number): Promise<{ now: number; offsetSeconds: number }>;
  addFault(fault: FaultJson): Promise<{ id: number }>;
  clearFaults(): Promise<void>;
  failRefund(refundId: string, failureReason?: string): Promise<Stripe.Refund>;
  holdWebhooks(rule: HoldRule): Promise<WebhookConfig>;
  releaseWebhooks(): Promise<WebhookConfig>;
  setSearchLag(lagSeconds: number): Promise<void>;
  /** What the simulator does later is done, and its webhooks delivered (or given up). */
  settled(): Promise<void>;
  /** No faults, default webhook behaviour, no search lag. */
  reset(): Promise<void>;
}

/** The control API (/_simulator) of a simulator at `url`, e.g. the one `npm start` runs. */
export function simulatorControl(url: string): SimulatorControl {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}/_simulator${path}`, {
      method,
      ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    const json = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(`${method} /_simulator${path} answered ${response.status}: ${json.error ?? ''}`);
    return json;
  };
  return {
    clock: () => call('GET', '/clock'),
    advanceClock: (seconds) => call('POST', '/clock/advance', { seconds }),
    addFault: (fault) => call('POST', '/faults', fault),
    clearFaults: async () => { await call('DELETE', '/faults'); },
    failRefund: async (refundId, failureReason) => (await call<{ refund: Stripe.Refund }>('POST', `/refunds/${refundId}/fail`, failureReason ? { failureReason } : {})).refund,
    holdWebhooks: (rule) => call('POST', '/webhooks/hold', rule),
    releaseWebhooks: () => call('POST', '/webhooks/release'),
    setSearchLag: async (lagSeconds) => { await call('POST', '/search', { lagSeconds }); },
    settled: async () => { await call('GET', '/settled'); },
    reset: async () => { await call('POST', '/reset'); },
  };
}
