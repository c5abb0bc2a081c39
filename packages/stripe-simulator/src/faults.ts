import { StripeApiError } from './errors.ts';

/** When a fault applies: every field given must match; `times` counts down, 'always' never does. */
interface FaultMatch {
  method?: string;
  /** A string matches the exact pathname, or a prefix when it ends with `*`; a RegExp is tested. */
  path?: string | RegExp;
  times?: number | 'always';
}

/**
 * What can go wrong at Stripe, per request. Where a fault strikes decides what Stripe's
 * idempotency layer keeps under the request's Idempotency-Key:
 * - `fail` with a 4xx (e.g. 429 rate limiting): answered in front of the idempotency layer, nothing
 *   saved, the same key may be retried ("rate limiters run before the API's idempotency layer",
 *   docs.stripe.com/error-low-level). `shouldRetry` sets the Stripe-Should-Retry header the SDK obeys.
 * - `fail` with a 5xx: the endpoint failed; the 500 is saved under the key and replayed for 24 h
 *   ("including 500 errors", docs.stripe.com/idempotency). `when: 'before'` (default): nothing was
 *   created; `'after'`: the work was done (objects created, events sent) and the answer is the 500.
 * - `stall`: Stripe being slow. `'before'` (default) holds the request after it took its key (a
 *   retry meanwhile gets 409); `'after'` does the work, saves the result, then holds the answer
 *   for `ms` (a client timeout after Stripe committed).
 * - `drop`: the network loses the request or the answer, whatever Stripe would answer (a replay
 *   too). `'before'` (default): nothing happened at Stripe; `'after'`: the request was handled (the
 *   work done and saved under the key), the answer is lost.
 */
export type FaultSpec =
  | (FaultMatch & { action: 'fail'; status?: number; errorType?: string; code?: string; message?: string; when?: 'before' | 'after'; shouldRetry?: boolean })
  | (FaultMatch & { action: 'stall'; ms: number; when?: 'before' | 'after' })
  | (FaultMatch & { action: 'drop'; when?: 'before' | 'after' });

export type ActiveFault = FaultSpec & { id: number; remaining: number; hits: number };

/**
 * `front`: taken as the request arrives, before Stripe's idempotency layer (rate limiting, the
 * network); `endpoint`: once the request has its key and is about to run (a replay never is).
 */
export type FaultPhase = 'front' | 'endpoint';

export function phaseOf(fault: FaultSpec): FaultPhase {
  if (fault.action === 'fail') return (fault.status ?? 500) < 500 ? 'front' : 'endpoint';
  return fault.action === 'drop' ? 'front' : 'endpoint';
}

export class Faults {
  private readonly active: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): number {
    const times = spec.times ?? 1;
    const remaining = times === 'always' ? Number.POSITIVE_INFINITY : times;
    if (!(remaining >= 1)) throw new Error('fault times must be a positive integer or "always"');
    if (spec.action === 'stall' && !(spec.ms >= 0)) throw new Error('stall fault needs ms >= 0');
    if (spec.action === 'fail' && spec.status !== undefined && (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599)) {
      throw new Error('fail fault status must be 400..599');
    }
    if (spec.action === 'fail' && spec.when === 'after' && phaseOf(spec) === 'front') {
      throw new Error("a 4xx fault is answered before the request runs (as Stripe's rate limiter is); when: 'after' needs a 5xx status");
    }
    const id = this.nextId++;
    this.active.push({ ...spec, id, remaining, hits: 0 });
    return id;
  }

  remove(id: number): boolean {
    const index = this.active.findIndex((f) => f.id === id);
    if (index >= 0) this.active.splice(index, 1);
    return index >= 0;
  }

  clear(): void {
    this.active.length = 0;
  }

  list(): ActiveFault[] {
    return this.active.map((f) => ({ ...f }));
  }

  /** The first fault of this phase matching the request, consumed once; checked in insertion order. */
  take(method: string, path: string, phase: FaultPhase): ActiveFault | undefined {
    const fault = this.active.find((f) => phaseOf(f) === phase && matches(f, method, path));
    if (!fault) return undefined;
    fault.hits += 1;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.remove(fault.id);
    return { ...fault };
  }
}

function matches(fault: FaultMatch, method: string, path: string): boolean {
  if (fault.method !== undefined && fault.method.toUpperCase() !== method) return false;
  if (fault.path === undefined) return true;
  if (fault.path instanceof RegExp) return fault.path.test(path);
  return fault.path.endsWith('*') ? path.startsWith(fault.path.slice(0, -1)) : path === fault.path;
}

function when(value: unknown): { when?: 'before' | 'after' } {
  if (value === undefined) return {};
  if (value !== 'before' && value !== 'after') throw new Error('when must be "before" or "after"');
  return { when: value };
}

/** Parses a fault from JSON (control API): `pathPattern` carries a regular expression as text. */
export function faultFromJson(input: unknown): FaultSpec {
  if (input === null || typeof input !== 'object') throw new Error('fault must be a JSON object');
  const raw = input as Record<string, unknown>;
  const base: FaultMatch = {};
  if (raw.method !== undefined) base.method = String(raw.method);
  if (raw.path !== undefined) base.path = String(raw.path);
  if (raw.pathPattern !== undefined) base.path = new RegExp(String(raw.pathPattern));
  if (raw.times !== undefined) base.times = raw.times === 'always' ? 'always' : Number(raw.times);
  switch (raw.action) {
    case 'fail':
      if (raw.shouldRetry !== undefined && typeof raw.shouldRetry !== 'boolean') throw new Error('shouldRetry must be a boolean');
      return {
        ...base, action: 'fail', ...when(raw.when),
        ...(raw.status !== undefined ? { status: Number(raw.status) } : {}),
        ...(raw.errorType !== undefined ? { errorType: String(raw.errorType) } : {}),
        ...(raw.code !== undefined ? { code: String(raw.code) } : {}),
        ...(raw.message !== undefined ? { message: String(raw.message) } : {}),
        ...(typeof raw.shouldRetry === 'boolean' ? { shouldRetry: raw.shouldRetry } : {}),
      };
    case 'stall':
      return { ...base, action: 'stall', ms: Number(raw.ms), ...when(raw.when) };
    case 'drop':
      return { ...base, action: 'drop', ...when(raw.when) };
    default:
      throw new Error('fault action must be one of fail, stall, drop');
  }
}

const RATE_LIMIT_MESSAGE = 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.';

/**
 * The answer of a `fail` fault, shaped like Stripe's errors of that status. A 5xx saved under an
 * Idempotency-Key says `Stripe-Should-Retry: false` unless told otherwise: a retry would only get
 * the saved 500 again (stripe-node's RequestSender expects exactly that of Stripe's 500s).
 */
export function faultError(fault: Extract<FaultSpec, { action: 'fail' }>, stored: boolean): StripeApiError {
  const status = fault.status ?? 500;
  const serverError = status >= 500;
  const shouldRetry = fault.shouldRetry ?? (serverError && stored ? false : undefined);
  const code = fault.code ?? (status === 429 ? 'rate_limit' : undefined);
  return new StripeApiError(status, {
    type: fault.errorType ?? (serverError ? 'api_error' : 'invalid_request_error'),
    message: fault.message ?? (status === 429 ? RATE_LIMIT_MESSAGE : serverError ? 'An unknown error occurred (simulated fault).' : 'The request was refused (simulated fault).'),
    ...(code !== undefined ? { code } : {}),
  }, { stored, headers: shouldRetry === undefined ? {} : { 'Stripe-Should-Retry': String(shouldRetry) } });
}
