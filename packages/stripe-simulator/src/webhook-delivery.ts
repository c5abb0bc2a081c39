import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import type { Logger } from 'pino';
import { appendBounded } from './bounded-log.ts';
import { buildEvent, type RequestInfo, type StripeEvent } from './events.ts';
import { postOnce } from './http-post.ts';

/** How one event is delivered; set globally (configure) or for the next matching event (once). */
export interface DeliveryOptions {
  /** Extra copies sent one after another once the first has been delivered (1 = twice in all). */
  duplicate?: number;
  /** Copies sent at the same moment (2+ = concurrent duplicates). */
  concurrent?: number;
  /** Wait this long before the first attempt. */
  delayMs?: number;
}

export interface WebhookConfig extends Required<DeliveryOptions> {
  paused: boolean;
  /** Events still to be held back before the held batch is released in reverse order. */
  reorderPending: number;
  /** Events held now (by `hold` or `reorder`), waiting for their release. */
  held: number;
}

/** Which events to hold back: of one type or any; until `count` arrived (then released reversed) or until released. */
export interface HoldRule {
  type?: string;
  count?: number;
}

export interface DeliveryAttempt {
  eventId: string;
  type: string;
  copy: number;
  attempt: number;
  url: string;
  /** HTTP status, or null when the request failed (refused, reset, timed out). */
  status: number | null;
  error?: string;
  at: number;
}

export interface WebhookRetry {
  attempts: number;
  baseDelayMs: number;
}

interface Queued {
  event: StripeEvent;
  options: Required<DeliveryOptions>;
}

const MAX_LOG = 10_000;
const USER_AGENT = 'Stripe/1.0 (+https://stripe.com/docs/webhooks)';

/**
 * Delivers events like Stripe: asynchronously, signed, retried with exponential back-off on a
 * non-2xx answer or network error; plus the misbehaviour tests need (duplicates, delays, reordering,
 * pauses). Events that are held (reorder) or paused do not count as pending for idle().
 */
export class WebhookDelivery {
  readonly deliveries: DeliveryAttempt[] = [];
  private url: string | undefined;
  private readonly secret: string;
  private readonly retry: WebhookRetry;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly allEvents: StripeEvent[];
  private options: Required<DeliveryOptions> = { duplicate: 0, concurrent: 1, delayMs: 0 };
  private readonly onceRules: Array<{ type: string | undefined; options: DeliveryOptions }> = [];
  private paused = false;
  private readonly pausedQueue: Queued[] = [];
  private holdRule: { type: string | undefined; remaining: number } | undefined;
  private readonly held: Queued[] = [];
  private pending = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  private readonly now: () => number;

  constructor(input: { url?: string; secret: string; retry: WebhookRetry; timeoutMs?: number; logger: Logger; events: StripeEvent[]; now: () => number }) {
    this.now = input.now;
    this.url = input.url;
    this.secret = input.secret;
    this.retry = input.retry;
    this.timeoutMs = input.timeoutMs ?? 10_000;
    this.logger = input.logger;
    this.allEvents = input.events;
  }

  /** Every event the simulator created, oldest first. */
  get events(): readonly StripeEvent[] {
    return this.allEvents;
  }

  get webhookUrl(): string | undefined {
    return this.url;
  }

  setUrl(url: string | undefined): void {
    this.url = url;
  }

  /** The `Stripe-Signature` header for a payload, as Stripe computes it (v1 HMAC-SHA256). */
  sign(payload: string, timestamp?: number): string {
    return Stripe.webhooks.generateTestHeaderString({ payload, secret: this.secret, ...(timestamp ? { timestamp } : {}) });
  }

  /** A Stripe event envelope for hand-crafted tests; not recorded, not sent. */
  buildEvent(type: string, object: object, request?: RequestInfo): StripeEvent {
    return buildEvent(type, object, { created: this.now(), ...(request ? { request } : {}) });
  }

  configure(config: DeliveryOptions & { paused?: boolean; reorder?: number }): WebhookConfig {
    this.options = normalize({ ...this.options, ...config });
    if (config.reorder !== undefined) this.hold({ count: config.reorder });
    if (config.paused === true) this.pause();
    if (config.paused === false) this.resume();
    return this.config();
  }

  config(): WebhookConfig {
    const reorderPending = this.holdRule && Number.isFinite(this.holdRule.remaining) ? this.holdRule.remaining : 0;
    return { ...this.options, paused: this.paused, reorderPending, held: this.held.length };
  }

  /** Back to plain Stripe behaviour: default options, no pending once-rules, held and paused events released. */
  reset(): void {
    this.options = normalize({});
    this.onceRules.length = 0;
    this.releaseHeld();
    this.resume();
  }

  /** Apply these options to the next event (of this type, if given) instead of the global ones. */
  once(match: { type?: string }, options: DeliveryOptions): void {
    this.onceRules.push({ type: match.type, options });
  }

  /** Hold the next `count` events and release them in reverse order once all have arrived. */
  holdNext(count: number): void {
    this.hold({ count });
  }

  /**
   * Hold back events (of `type`, or all) until releaseHeld(), or until `count` of them arrived:
   * then they go out in reverse order. E.g. hold payment_intent.succeeded, refund the payment,
   * release: the endpoint sees charge.refunded before payment_intent.succeeded.
   */
  hold(rule: HoldRule): void {
    const remaining = rule.count === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(rule.count));
    this.holdRule = { type: rule.type, remaining };
    if (remaining === 0) this.releaseHeld();
  }

  /**
   * Stop holding and send what was held, newest first, one event after the other (each once
   * delivered or given up), so the endpoint sees exactly that order.
   */
  releaseHeld(): void {
    this.holdRule = undefined;
    const batch = this.held.splice(0).reverse();
    if (batch.length === 0) return;
    this.pending += 1;
    void (async () => {
      try {
        for (const item of batch) {
          if (this.paused) this.pausedQueue.push(item);
          else await this.dispatch(item);
        }
      } finally {
        this.settled();
      }
    })();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const item of this.pausedQueue.splice(0)) void this.dispatch(item);
  }

  /** Called for each event the API creates. */
  enqueue(event: StripeEvent): void {
    if (this.url === undefined || this.abort.signal.aborted) return;
    const ruleIndex = this.onceRules.findIndex((r) => r.type === undefined || r.type === event.type);
    const rule = ruleIndex >= 0 ? this.onceRules.splice(ruleIndex, 1)[0] : undefined;
    const item: Queued = { event, options: normalize({ ...this.options, ...rule?.options }) };
    const hold = this.holdRule;
    if (hold && hold.remaining > 0 && (hold.type === undefined || hold.type === event.type)) {
      this.held.push(item);
      hold.remaining -= 1;
      if (hold.remaining === 0) this.releaseHeld();
      return;
    }
    this.dispatchOrQueue(item);
  }

  /** (Re)send any event now, bypassing pause and hold; resolves when every copy is done. */
  send(event: StripeEvent, options: DeliveryOptions = {}): Promise<void> {
    return this.dispatch({ event, options: normalize({ ...this.options, ...options }) });
  }

  /** Resolves when nothing is waiting (delay, back-off) or in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.abort.abort();
    this.pausedQueue.length = 0;
    this.held.length = 0;
  }

  private dispatchOrQueue(item: Queued): void {
    if (this.paused) this.pausedQueue.push(item);
    else void this.dispatch(item);
  }

  private async dispatch(item: Queued): Promise<void> {
    this.pending += 1;
    try {
      const { event, options } = item;
      if (options.delayMs > 0) await sleep(options.delayMs, undefined, { signal: this.abort.signal });
      const copies = Array.from({ length: options.concurrent }, (_, i) => this.deliver(event, i + 1));
      await Promise.all(copies);
      for (let i = 0; i < options.duplicate; i += 1) await this.deliver(event, options.concurrent + i + 1);
    } catch (error) {
      if (!this.abort.signal.aborted) this.logger.error({ err: error }, 'webhook dispatch failed');
    } finally {
      this.settled();
    }
  }

  private settled(): void {
    this.pending -= 1;
    if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** One copy of an event, retried with exponential back-off until 2xx or out of attempts. */
  private async deliver(event: StripeEvent, copy: number): Promise<boolean> {
    const payload = JSON.stringify(event, null, 2);
    for (let attempt = 1; attempt <= this.retry.attempts; attempt += 1) {
      const url = this.url;
      if (url === undefined || this.abort.signal.aborted) return false;
      const record: DeliveryAttempt = { eventId: event.id, type: event.type, copy, attempt, url, status: null, at: Date.now() };
      try {
        const headers = {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': USER_AGENT,
          'Stripe-Signature': this.sign(payload),
          Accept: '*/*; q=0.5, application/xml',
          'Cache-Control': 'no-cache',
        };
        const result = await postOnce(url, payload, headers, this.timeoutMs, this.abort.signal);
        record.status = result.status;
      } catch (error) {
        if (this.abort.signal.aborted) return false;
        record.error = error instanceof Error ? error.message : String(error);
      }
      // Bounded so a long-running embedded simulator does not grow without limit.
      appendBounded(this.deliveries, record, MAX_LOG);
      const delivered = record.status !== null && record.status >= 200 && record.status < 300;
      this.logger.debug({ eventId: event.id, type: event.type, attempt, status: record.status, error: record.error }, 'webhook attempt');
      if (delivered) return true;
      if (attempt < this.retry.attempts) {
        await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1), undefined, { signal: this.abort.signal });
      }
    }
    this.logger.warn({ eventId: event.id, type: event.type }, 'webhook delivery gave up');
    return false;
  }
}

function normalize(options: DeliveryOptions): Required<DeliveryOptions> {
  const int = (value: number | undefined, min: number, fallback: number): number =>
    value === undefined || !Number.isFinite(value) ? fallback : Math.max(min, Math.floor(value));
  return {
    duplicate: int(options.duplicate, 0, 0),
    concurrent: int(options.concurrent, 1, 1),
    delayMs: int(options.delayMs, 0, 0),
  };
}
