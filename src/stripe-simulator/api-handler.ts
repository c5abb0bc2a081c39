import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import qs from 'qs';
import type { Logger } from 'pino';
import type { ApiContext } from './api-context.ts';
import { authenticate, publishableNotAllowed } from './auth.ts';
import { StripeApiError, invalidParam, routeNotFound } from './errors.ts';
import { API_VERSION, buildEvent, type StripeEvent } from './events.ts';
import type { Faults } from './faults.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-util.ts';
import { newRequestId } from './ids.ts';
import type { IdempotencyRecord, IdempotencyStore, StoredResponse } from './idempotency.ts';
import type { Params } from './params.ts';
import { matchRoute } from './router.ts';
import type { Store } from './store.ts';
import type { WebhookDelivery } from './webhook-delivery.ts';

export interface RequestLogEntry {
  at: number;
  requestId: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** HTTP status sent, or null when the connection was dropped by a fault. */
  status: number | null;
  replayed: boolean;
  fault: 'fail' | 'stall' | 'drop' | null;
  params: Params;
}

export interface ApiDeps {
  store: Store;
  idempotency: IdempotencyStore;
  faults: Faults;
  webhooks: WebhookDelivery;
  requestLog: RequestLogEntry[];
  logger: Logger;
  closing: AbortSignal;
  persist(): Promise<void>;
}

const MAX_LOG = 10_000; // entries kept, so a long-running simulator stays bounded
const QS_OPTIONS = { depth: 10, arrayLimit: 100, parameterLimit: 2000 } as const;

/** One /v1 request: auth → faults → idempotency → handler → events → persistence → response. */
export async function handleApiRequest(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const requestId = newRequestId();
  const rawKey = req.headers['idempotency-key'];
  const idempotencyKey = method === 'POST' && typeof rawKey === 'string' ? rawKey : null;
  const entry: RequestLogEntry = { at: Date.now(), requestId, method, path, idempotencyKey, status: null, replayed: false, fault: null, params: {} };
  deps.requestLog.push(entry);
  if (deps.requestLog.length > MAX_LOG) deps.requestLog.splice(0, deps.requestLog.length - MAX_LOG);
  const headers: Record<string, string> = {
    'Request-Id': requestId,
    'Stripe-Version': typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : API_VERSION,
    ...(idempotencyKey !== null ? { 'Idempotency-Key': idempotencyKey } : {}),
  };
  let dropAnswer = false;
  const respond = (status: number, body: string | object, extra: Record<string, string> = {}): void => {
    // A 'drop after' fault: the request went through, the answer is lost on the way back.
    if (dropAnswer) {
      res.socket?.destroy();
      return;
    }
    entry.status = status;
    sendJson(res, status, body, { ...headers, ...extra });
  };
  const respondError = (error: StripeApiError): void => respond(error.status, error.toBody(requestId), error.headers);

  let record: IdempotencyRecord | undefined;
  try {
    const body = method === 'POST' ? await readBody(req) : '';
    const params = qs.parse(method === 'POST' ? body : url.search.slice(1), QS_OPTIONS);
    entry.params = params;
    const apiKey = authenticate(req);

    const fault = deps.faults.take(method, path);
    entry.fault = fault?.action ?? null;
    if (fault?.action === 'fail') {
      const status = fault.status ?? 500;
      throw new StripeApiError(status, {
        type: fault.errorType ?? 'api_error',
        message: fault.message ?? 'An unknown error occurred (simulated fault).',
        ...(fault.code ? { code: fault.code } : {}),
      }, { stored: false });
    }
    if (fault?.action === 'drop' && fault.when !== 'after') {
      res.socket?.destroy();
      return;
    }
    dropAnswer = fault?.action === 'drop';

    const matched = matchRoute(method, path);
    if (!matched) throw routeNotFound(method, path);
    if (apiKey.publishable) {
      if (!matched.route.publishable) throw publishableNotAllowed();
      checkClientSecret(deps.store, matched.id, params);
    }
    if (idempotencyKey !== null) {
      if (idempotencyKey.length > 255) throw invalidParam('Idempotency-Key', 'Idempotency-Key must be at most 255 characters long.');
      const outcome = deps.idempotency.begin(apiKey.key, idempotencyKey, method, path, params);
      if (outcome.kind === 'replay') {
        entry.replayed = true;
        respond(outcome.response.status, outcome.response.body, { 'Idempotent-Replayed': 'true', 'Original-Request': outcome.response.requestId });
        return;
      }
      record = outcome.record;
    }
    // A stall holds the request after the key is taken, so a concurrent retry sees 409 as on Stripe.
    if (fault?.action === 'stall') await sleep(fault.ms, undefined, { signal: deps.closing });

    const result = execute(deps, params, matched, { id: requestId, idempotencyKey });
    const stored: StoredResponse = { status: result.status, body: JSON.stringify(result.body, null, 2), requestId };
    if (record) deps.idempotency.finish(record, result.save ? stored : null);
    record = undefined;
    if (method === 'POST') await deps.persist();
    respond(stored.status, stored.body);
  } catch (error) {
    if (record) deps.idempotency.finish(record, null);
    if (deps.closing.aborted) {
      res.socket?.destroy();
      return;
    }
    if (error instanceof StripeApiError) return respondError(error);
    if (error instanceof BodyTooLargeError) {
      return respondError(new StripeApiError(413, { type: 'invalid_request_error', message: 'The request body is too large.' }, { stored: false }));
    }
    deps.logger.error({ err: error, requestId }, 'stripe simulator request failed');
    respondError(new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred.' }));
  }
}

/** Runs the handler, then records and delivers the events it raised (also when it failed). */
function execute(
  deps: ApiDeps, params: Params, matched: NonNullable<ReturnType<typeof matchRoute>>, request: { id: string; idempotencyKey: string | null },
): { status: number; body: unknown; save: boolean } {
  const raised: StripeEvent[] = [];
  const ctx: ApiContext = {
    store: deps.store,
    request,
    emit: (type, object) => raised.push(buildEvent(type, object, request)),
  };
  try {
    const result = matched.route.handler(ctx, params, matched.id);
    return { ...result, save: true };
  } catch (error) {
    if (!(error instanceof StripeApiError)) throw error;
    return { status: error.status, body: error.toBody(request.id), save: error.stored };
  } finally {
    for (const event of raised) {
      deps.store.events.push(event);
      deps.webhooks.enqueue(event);
    }
  }
}

function checkClientSecret(store: Store, id: string, params: Params): void {
  const secret = params.client_secret;
  const pi = store.paymentIntents.get(id);
  if (typeof secret !== 'string' || secret === '') {
    throw invalidParam('client_secret', 'A client_secret is required when using a publishable key.');
  }
  if (!pi || pi.client_secret !== secret) {
    throw invalidParam('client_secret', 'The client_secret provided does not match any associated PaymentIntent on this account.', 'payment_intent_authentication_failure');
  }
}
