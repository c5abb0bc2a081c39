import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import qs from 'qs';
import type { Logger } from 'pino';
import { authenticate, publishableNotAllowed } from './auth.ts';
import { appendBounded } from './bounded-log.ts';
import { StripeApiError, invalidParam, routeNotFound } from './errors.ts';
import { API_VERSION } from './events.ts';
import { faultError, type ActiveFault, type Faults } from './faults.ts';
import type { HeapBudget } from './heap-budget.ts';
import { BodyTooLargeError, readBody, sendJson } from './http-util.ts';
import { newRequestId } from './ids.ts';
import type { IdempotencyRecord, StoredResponse } from './idempotency.ts';
import type { Params } from './params.ts';
import { matchRoute, type Route } from './router.ts';
import type { SimulatorState } from './state.ts';
import type { Store } from './store.ts';

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
  state: SimulatorState;
  faults: Faults;
  requestLog: RequestLogEntry[];
  logger: Logger;
  closing: AbortSignal;
  heapBudget: HeapBudget;
}

const MAX_LOG = 10_000; // entries kept, so a long-running simulator stays bounded
const QS_OPTIONS = { depth: 10, arrayLimit: 100, parameterLimit: 2000 } as const;

/**
 * One /v1 request, in Stripe's order: auth → front faults (rate limiting: before the idempotency
 * layer) → idempotency key → the heap budget (POST) → endpoint faults → handler → journal + events → answer.
 */
export async function handleApiRequest(deps: ApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const requestId = newRequestId();
  const rawKey = req.headers['idempotency-key'];
  const idempotencyKey = method === 'POST' && typeof rawKey === 'string' ? rawKey : null;
  const entry: RequestLogEntry = { at: Date.now(), requestId, method, path, idempotencyKey, status: null, replayed: false, fault: null, params: {} };
  appendBounded(deps.requestLog, entry, MAX_LOG);
  const headers: Record<string, string> = {
    'Request-Id': requestId,
    'Stripe-Version': typeof req.headers['stripe-version'] === 'string' ? req.headers['stripe-version'] : API_VERSION,
    ...(idempotencyKey !== null ? { 'Idempotency-Key': idempotencyKey } : {}),
  };
  const origin = originOf(req);
  const drop = (): void => {
    res.socket?.destroy();
  };
  let dropAnswer = false;
  const respond = (status: number, body: string | object, extra: Record<string, string> = {}): void => {
    if (dropAnswer) return drop(); // a 'drop after' fault: the answer is lost on the way back
    entry.status = status;
    sendJson(res, status, body, { ...headers, ...extra });
  };

  let record: IdempotencyRecord | undefined;
  try {
    const body = method === 'POST' ? await readBody(req) : '';
    const params = qs.parse(method === 'POST' ? body : url.search.slice(1), QS_OPTIONS);
    // Stripe.js's own parameters: its publishable key and API version travel in the form, not in headers.
    const { key: paramKey, _stripe_version: paramVersion } = params;
    delete params.key;
    delete params._stripe_version;
    // Echoed in a header: only what a version looks like (2024-06-20.acacia), never a CR or LF.
    if (typeof paramVersion === 'string' && /^[\w.-]{1,64}$/.test(paramVersion)) headers['Stripe-Version'] = paramVersion;
    entry.params = params;
    const apiKey = authenticate(req, paramKey);

    const front = deps.faults.take(method, path, 'front');
    if (front) entry.fault = front.action;
    if (front?.action === 'drop' && front.when !== 'after') return drop();
    dropAnswer = front?.action === 'drop';
    if (front?.action === 'fail') throw faultError(front, false);

    const matched = matchRoute(method, path);
    if (!matched) throw routeNotFound(method, path);
    if (apiKey.publishable) {
      if (!matched.route.publishable) throw publishableNotAllowed();
      checkClientSecret(deps.state.store, matched.id, params);
    }
    if (idempotencyKey !== null) {
      if (idempotencyKey.length > 255) throw invalidParam('Idempotency-Key', 'Idempotency-Key must be at most 255 characters long.');
      const outcome = deps.state.idempotency.begin(apiKey.key, idempotencyKey, method, path, params);
      if (outcome.kind === 'replay') {
        entry.replayed = true;
        const { response } = outcome;
        respond(response.status, response.body, { ...response.headers, 'Idempotent-Replayed': 'true', 'Original-Request': response.requestId });
        return;
      }
      record = outcome.record;
    }
    // A replay above creates nothing; anything else may, so it waits for room in the heap.
    if (method === 'POST') deps.heapBudget.check();

    const fault = deps.faults.take(method, path, 'endpoint');
    if (fault) entry.fault = fault.action;
    // Held after the key is taken, so a concurrent retry sees 409 as on Stripe.
    if (fault?.action === 'stall' && fault.when !== 'after') await sleep(fault.ms, undefined, { signal: deps.closing });

    const answer = execute(deps.state, method, params, matched, { id: requestId, idempotencyKey, origin }, fault, record !== undefined);
    if (record) deps.state.idempotency.finish(record, answer.save ? answer.response : null);
    answer.commit(record && answer.save ? record : undefined);
    record = undefined;

    if (fault?.action === 'stall' && fault.when === 'after') await sleep(fault.ms, undefined, { signal: deps.closing });
    respond(answer.response.status, answer.response.body, answer.response.headers);
  } catch (error) {
    if (record) deps.state.idempotency.finish(record, null);
    if (deps.closing.aborted) return drop();
    if (error instanceof StripeApiError) return respond(error.status, error.toBody(requestId), error.headers);
    if (error instanceof BodyTooLargeError) {
      const tooLarge = new StripeApiError(413, { type: 'invalid_request_error', message: 'The request body is too large.' }, { stored: false });
      return respond(tooLarge.status, tooLarge.toBody(requestId));
    }
    deps.logger.error({ err: error, requestId }, 'stripe simulator request failed');
    const unknown = new StripeApiError(500, { type: 'api_error', message: 'An unknown error occurred.' }, { stored: false });
    respond(unknown.status, unknown.toBody(requestId));
  }
}

/**
 * Runs the endpoint as one change (unless a 'fail before' fault stops it first) and says what to
 * answer and whether the idempotency layer keeps it; the caller commits once the key is settled,
 * so the saved answer and the objects land in the same journal line.
 */
function execute(
  state: SimulatorState, method: string, params: Params, matched: { route: Route; id: string },
  request: { id: string; idempotencyKey: string | null; origin: string | undefined }, fault: ActiveFault | undefined, keyed: boolean,
): { response: StoredResponse; save: boolean; commit(record?: IdempotencyRecord): void } {
  const change = state.begin({ id: request.id, idempotencyKey: request.idempotencyKey }, {
    record: method === 'POST', ...(request.origin !== undefined ? { origin: request.origin } : {}),
  });
  let result: { status: number; body: unknown; headers?: Record<string, string>; save: boolean };
  try {
    if (fault?.action === 'fail' && fault.when !== 'after') throw faultError(fault, keyed);
    const ok = matched.route.handler(change.ctx, params, matched.id);
    result = { ...ok, save: true };
    if (fault?.action === 'fail') throw faultError(fault, keyed); // 'after': the work is done, the answer is a 5xx
  } catch (error) {
    if (!(error instanceof StripeApiError)) {
      change.commit(); // whatever the handler changed before it crashed is real
      throw error;
    }
    result = { status: error.status, body: error.toBody(request.id), headers: error.headers, save: error.stored };
  }
  const headers = result.headers && Object.keys(result.headers).length ? result.headers : undefined;
  return {
    response: { status: result.status, body: JSON.stringify(result.body, null, 2), requestId: request.id, ...(headers ? { headers } : {}) },
    save: result.save,
    commit: (record) => change.commit(record),
  };
}

/** http://<Host> when the Host header is a plain host[:port]; else undefined (the server's own address is used). */
function originOf(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  return host !== undefined && /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host) ? `http://${host}` : undefined;
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
