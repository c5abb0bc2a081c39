import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import { handleApiRequest, type RequestLogEntry } from './api-handler.ts';
import { AUTHENTICATION_PATH, handleAuthenticationPage } from './authentication-page.ts';
import type { SimulatedClock } from './clock.ts';
import { handleControlRequest } from './control-api.ts';
import { Faults } from './faults.ts';
import type { Charge, PaymentIntent, Refund } from './objects.ts';
import { HeapBudget } from './heap-budget.ts';
import { restoreState } from './persistence.ts';
import { failRefund } from './refunds.ts';
import { SimulatorState } from './state.ts';
import { WebhookDelivery, type WebhookRetry } from './webhook-delivery.ts';
import { sendJson } from './http-util.ts';

export type { RequestLogEntry } from './api-handler.ts';
export type { SimulatedClock } from './clock.ts';
export type { FaultSpec } from './faults.ts';
export type { DeliveryAttempt, DeliveryOptions, HoldRule, WebhookConfig } from './webhook-delivery.ts';
export type { StripeEvent } from './events.ts';
export type { Charge, PaymentIntent, Refund } from './objects.ts';
export { API_VERSION } from './events.ts';
export { CHARGE_MINIMUMS, MAXIMUM_AMOUNT } from './currencies.ts';

export interface StripeSimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the control API has no auth, so keep it local. */
  host?: string;
  /** Where events are POSTed; without one they are only recorded. */
  webhookUrl?: string;
  /** The endpoint's signing secret (whsec_…), used for the Stripe-Signature header. */
  webhookSecret: string;
  logger?: Logger;
  /** Delivery attempts per event copy and the first back-off delay (doubling each time). */
  webhookRetry?: WebhookRetry;
  /** Per-attempt webhook timeout; Stripe gives endpoints a few seconds. */
  webhookTimeoutMs?: number;
  /**
   * A journal file that keeps PaymentIntents, charges, refunds, events, idempotency records and
   * the clock across restarts (one line appended per change; compacted at start). Its directory must exist.
   */
  stateFile?: string;
  /**
   * The share of the heap's limit, in use after a full collection, past which POST requests are
   * refused (500 api_error `simulator_memory_full`, not kept under the key, Stripe-Should-Retry:
   * false) instead of creating more; default 0.6 (src/heap-budget.ts, README "Memory").
   */
  heapBudgetFraction?: number;
}

export interface StripeSimulator {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly webhookSecret: string;
  readonly faults: Faults;
  readonly webhooks: WebhookDelivery;
  readonly requestLog: readonly RequestLogEntry[];
  /** The simulated clock (read it; move it with advanceClock so the move is kept across restarts). */
  readonly clock: Pick<SimulatedClock, 'nowMs' | 'nowSeconds' | 'offsetMs'>;
  setWebhookUrl(url: string | undefined): void;
  getPaymentIntent(id: string): PaymentIntent | undefined;
  listPaymentIntents(): PaymentIntent[];
  getCharge(id: string): Charge | undefined;
  listRefunds(): Refund[];
  /** Moves the simulated clock forward, e.g. past Stripe's 24 hours of idempotency. */
  advanceClock(seconds: number): void;
  /** Search sees each change this many simulated seconds late (Stripe's search is eventually consistent); 0: at once. */
  setSearchLag(seconds: number): void;
  /** Makes a succeeded refund fail now, as a card network may days later (charge.refund.updated). */
  failRefund(refundId: string, failureReason?: string): Refund;
  /** Resolves once what the simulator does "later" (a pm_card_refundFail refund failing) is done and its webhooks delivered. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

// What api.stripe.com answers to browsers: any origin, no cookies needed (the key is in the
// request), Request-Id readable by the page.
const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Request-Id, Stripe-Manage-Version, X-Stripe-External-Auth-Required, X-Stripe-Privileged-Session-Required',
};

/** A CORS preflight: Stripe allows the methods it serves and whatever headers the page asks to send. */
function answerPreflight(req: http.IncomingMessage, res: http.ServerResponse): void {
  const requested = req.headers['access-control-request-headers'];
  res.writeHead(204, {
    'Access-Control-Allow-Methods': 'GET, HEAD, PUT, PATCH, POST, DELETE',
    'Access-Control-Allow-Headers': typeof requested === 'string' && /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/.test(requested)
      ? requested
      : 'Authorization, Content-Type, Idempotency-Key, Stripe-Version',
    'Access-Control-Max-Age': '300',
  });
  res.end();
}

export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = { attempts: 8, baseDelayMs: 200 };

/** Starts a Stripe-compatible API (/v1) plus its control API (/_simulator) on one HTTP server. */
export async function startStripeSimulator(options: StripeSimulatorOptions): Promise<StripeSimulator> {
  if (!options.webhookSecret) throw new Error('startStripeSimulator: webhookSecret is required');
  const host = options.host ?? '127.0.0.1';
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'stripe-simulator' });
  // Watching the collections from before the journal is read: those of the restore count too.
  const heapBudget = new HeapBudget(options.heapBudgetFraction);
  const { store, clock, idempotency, journal } = await restoreState(options.stateFile, logger).catch((error: unknown) => {
    heapBudget.close();
    throw error;
  });
  const faults = new Faults();
  const closing = new AbortController();
  const requestLog: RequestLogEntry[] = [];
  const webhooks = new WebhookDelivery({
    ...(options.webhookUrl ? { url: options.webhookUrl } : {}),
    secret: options.webhookSecret,
    retry: options.webhookRetry ?? DEFAULT_WEBHOOK_RETRY,
    ...(options.webhookTimeoutMs ? { timeoutMs: options.webhookTimeoutMs } : {}),
    logger,
    events: store.events,
    now: () => clock.nowSeconds(),
  });
  const state = new SimulatorState({ store, clock, idempotency, webhooks, journal, logger });
  const apiDeps = { state, faults, requestLog, logger, closing: closing.signal, heapBudget };

  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    if (url.pathname.startsWith('/v1/')) {
      // Browsers call the API directly (Stripe.js, a page with a publishable key); the control API
      // and the authentication page are not for other origins' scripts.
      for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
      if (req.method === 'OPTIONS') return answerPreflight(req, res);
    }
    const handler = url.pathname.startsWith('/_simulator')
      ? handleControlRequest({ state, faults, webhooks, requestLog }, req, res, url)
      : url.pathname === AUTHENTICATION_PATH
        ? handleAuthenticationPage(state, req, res, url)
        : handleApiRequest(apiDeps, req, res, url);
    handler.catch((error: unknown) => {
      logger.error({ err: error }, 'stripe simulator handler crashed');
      if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred.' } });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
    heapBudget.close();
    state.close();
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  state.setOrigin(`http://${urlHost}:${port}`);
  logger.info({ port, host, webhookUrl: options.webhookUrl }, 'stripe simulator listening');

  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    webhookSecret: options.webhookSecret,
    faults,
    webhooks,
    requestLog,
    clock,
    setWebhookUrl: (url) => webhooks.setUrl(url),
    getPaymentIntent: (id) => {
      const pi = store.paymentIntents.get(id);
      return pi ? structuredClone(pi) : undefined;
    },
    listPaymentIntents: () => [...store.paymentIntents.values()].map((pi) => structuredClone(pi)),
    getCharge: (id) => {
      const charge = store.charges.get(id);
      return charge ? structuredClone(charge) : undefined;
    },
    listRefunds: () => [...store.refunds.values()].map((re) => structuredClone(re)),
    advanceClock: (seconds) => state.advanceClock(seconds),
    setSearchLag: (seconds) => state.setSearchLag(seconds),
    failRefund: (refundId, failureReason) => state.run((ctx) => failRefund(ctx, refundId, failureReason)),
    settled: () => state.settled(),
    close: () => {
      closed ??= (async () => {
        closing.abort();
        webhooks.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await stopped;
        heapBudget.close();
        state.close();
      })();
      return closed;
    },
  };
}
