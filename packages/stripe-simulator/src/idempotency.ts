import type { SimulatedClock } from './clock.ts';
import { StripeApiError } from './errors.ts';
import type { Params } from './params.ts';

/** A response as sent, kept so a retry with the same key gets exactly the same bytes. */
export interface StoredResponse {
  status: number;
  body: string;
  requestId: string;
  headers?: Record<string, string>;
}

export interface IdempotencyRecord {
  apiKey: string;
  key: string;
  method: string;
  path: string;
  fingerprint: string;
  /** Simulated time, in milliseconds. */
  createdAt: number;
  response: StoredResponse | null;
}

export type IdempotencyOutcome =
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'execute'; record: IdempotencyRecord };

/** "You can remove keys from the system automatically after they're at least 24 hours old" (docs.stripe.com/idempotency). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** Params in a canonical order so the same request encoded differently still matches. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function recordId(apiKey: string, key: string): string {
  return `${apiKey}\u0000${key}`;
}

/**
 * Stripe's v1 idempotency, scoped per API key (docs.stripe.com/idempotency): the first request
 * with a key executes and its result is saved, "including 500 errors"; later ones with the same
 * endpoint and parameters replay it for 24 hours; other parameters or endpoint → 400
 * idempotency_error; while the first is still executing → 409. After 24 hours (simulated clock)
 * the key is pruned and a request with it runs anew.
 */
export class IdempotencyStore {
  /** In creation order (the clock never goes back), so expiry only looks at the oldest. */
  private readonly records = new Map<string, IdempotencyRecord>();
  private readonly clock: SimulatedClock;

  constructor(clock: SimulatedClock) {
    this.clock = clock;
  }

  begin(apiKey: string, key: string, method: string, path: string, params: Params): IdempotencyOutcome {
    this.prune();
    const id = recordId(apiKey, key);
    const fingerprint = JSON.stringify(canonical(params));
    let existing = this.records.get(id);
    if (existing && existing.response !== null && this.expired(existing)) {
      this.records.delete(id);
      existing = undefined;
    }
    if (!existing) {
      const record: IdempotencyRecord = { apiKey, key, method, path, fingerprint, createdAt: this.clock.nowMs(), response: null };
      this.records.set(id, record);
      return { kind: 'execute', record };
    }
    if (existing.response === null) {
      throw new StripeApiError(409, {
        type: 'idempotency_error',
        code: 'idempotency_key_in_use',
        message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
      }, { stored: false });
    }
    if (existing.method !== method || existing.path !== path) {
      throw new StripeApiError(400, {
        type: 'idempotency_error',
        message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.method} ${existing.path}' vs '${method} ${path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
      }, { stored: false });
    }
    if (existing.fingerprint !== fingerprint) {
      throw new StripeApiError(400, {
        type: 'idempotency_error',
        message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
      }, { stored: false });
    }
    return { kind: 'replay', response: existing.response };
  }

  /** Saves the result of an executed request, or forgets the key when it must not be saved. */
  finish(record: IdempotencyRecord, response: StoredResponse | null): void {
    if (response === null) this.records.delete(recordId(record.apiKey, record.key));
    else record.response = response;
  }

  /** Completed records still within 24 hours: an in-flight one never finished. */
  snapshot(): IdempotencyRecord[] {
    this.prune();
    return [...this.records.values()].filter((r) => r.response !== null && !this.expired(r));
  }

  restore(records: IdempotencyRecord[]): void {
    for (const r of records) {
      const id = recordId(r.apiKey, r.key);
      this.records.delete(id); // a later line for the same key is the newer record
      this.records.set(id, r);
    }
    this.prune();
  }

  private expired(record: IdempotencyRecord): boolean {
    return record.createdAt < this.clock.nowMs() - IDEMPOTENCY_TTL_MS;
  }

  /** Drops expired records from the oldest end; amortised O(1) per request. */
  private prune(): void {
    for (const [id, r] of this.records) {
      if (!this.expired(r)) break;
      if (r.response !== null) this.records.delete(id);
    }
  }
}
