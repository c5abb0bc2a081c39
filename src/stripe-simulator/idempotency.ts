import { StripeApiError } from './errors.ts';
import type { Params } from './params.ts';

/** A response as sent, kept so a retry with the same key gets exactly the same bytes. */
export interface StoredResponse {
  status: number;
  body: string;
  requestId: string;
}

export interface IdempotencyRecord {
  apiKey: string;
  key: string;
  method: string;
  path: string;
  fingerprint: string;
  createdAt: number;
  response: StoredResponse | null;
}

export type IdempotencyOutcome =
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'execute'; record: IdempotencyRecord };

const TTL_MS = 24 * 60 * 60 * 1000; // Stripe prunes keys after 24 hours.

/** Params in a canonical order so the same request encoded differently still matches. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/**
 * Stripe's v1 idempotency, scoped per API key: the first request with a key executes and its
 * result is saved; later ones with the same endpoint and parameters replay it; other parameters or
 * endpoint → 400 idempotency_error; while the first is still executing → 409.
 */
export class IdempotencyStore {
  private readonly records = new Map<string, IdempotencyRecord>();

  begin(apiKey: string, key: string, method: string, path: string, params: Params): IdempotencyOutcome {
    this.prune();
    const id = `${apiKey}\u0000${key}`;
    const fingerprint = JSON.stringify(canonical(params));
    const existing = this.records.get(id);
    if (!existing) {
      const record: IdempotencyRecord = { apiKey, key, method, path, fingerprint, createdAt: Date.now(), response: null };
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

  /** Saves the result of an executed request (or forgets the key when it must not be saved). */
  finish(record: IdempotencyRecord, response: StoredResponse | null): void {
    const id = `${record.apiKey}\u0000${record.key}`;
    if (response === null) this.records.delete(id);
    else record.response = response;
  }

  /** Completed records only: an in-flight one from a previous process never finished. */
  snapshot(): IdempotencyRecord[] {
    return [...this.records.values()].filter((r) => r.response !== null);
  }

  restore(records: IdempotencyRecord[]): void {
    for (const r of records) this.records.set(`${r.apiKey}\u0000${r.key}`, r);
    this.prune();
  }

  private prune(): void {
    const cutoff = Date.now() - TTL_MS;
    for (const [id, r] of this.records) if (r.createdAt < cutoff && r.response !== null) this.records.delete(id);
  }
}
