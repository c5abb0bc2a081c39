import type { Logger } from 'pino';
import type { ApiContext } from './api-context.ts';
import type { SimulatedClock } from './clock.ts';
import { buildEvent, NO_REQUEST, type RequestInfo, type StripeEvent } from './events.ts';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency.ts';
import type { Journal, JournalEntry } from './journal.ts';
import type { Store, StoreChanges } from './store.ts';
import type { WebhookDelivery } from './webhook-delivery.ts';

/** One change in progress: handlers work through `ctx`; `commit` saves and publishes what they did. */
export interface Change {
  ctx: ApiContext;
  /** Appends what changed (and the request's idempotency record) to the journal, then sends the events. */
  commit(idempotency?: IdempotencyRecord): void;
}

/**
 * The simulator's state and the one way it changes: begin a change, let a handler mutate the
 * store and raise events, commit. A change is synchronous from begin to commit, so changes never
 * interleave and journal lines are in the order things happened.
 */
export class SimulatorState {
  readonly store: Store;
  readonly clock: SimulatedClock;
  readonly idempotency: IdempotencyStore;
  readonly webhooks: WebhookDelivery;
  private readonly journal: Journal | undefined;
  private readonly logger: Logger;
  private scheduled = 0;
  /** The server's own address, for changes made outside a request (set once it listens). */
  private ownOrigin = 'http://127.0.0.1';
  private settledWaiters: Array<() => void> = [];

  constructor(input: { store: Store; clock: SimulatedClock; idempotency: IdempotencyStore; webhooks: WebhookDelivery; journal: Journal | undefined; logger: Logger }) {
    this.store = input.store;
    this.clock = input.clock;
    this.idempotency = input.idempotency;
    this.webhooks = input.webhooks;
    this.journal = input.journal;
    this.logger = input.logger;
  }

  setOrigin(origin: string): void {
    this.ownOrigin = origin;
  }

  /**
   * `record`: whether this change may alter state (POST) and must be journaled; reads (GET) are not.
   * `origin`: how the client reached the simulator (its Host header), for the links it is given.
   */
  begin(request: RequestInfo, options: { record: boolean; origin?: string }): Change {
    if (options.record) this.store.startRecording();
    const raised: StripeEvent[] = [];
    const later: Array<(ctx: ApiContext) => void> = [];
    const ctx: ApiContext = {
      store: this.store,
      request,
      origin: options.origin ?? this.ownOrigin,
      now: () => this.clock.nowSeconds(),
      emit: (type, object, previousAttributes) => {
        raised.push(buildEvent(type, object, { request, created: this.clock.nowSeconds(), ...(previousAttributes ? { previousAttributes } : {}) }));
      },
      later: (task) => later.push(task),
    };
    return {
      ctx,
      commit: (idempotency) => {
        for (const event of raised) this.store.addEvent(event);
        if (options.record) {
          const changes = this.store.finishRecording();
          this.store.search.record(changes.paymentIntents, this.clock.nowSeconds());
          const entry = journalEntry(changes, idempotency);
          if (entry) this.journal?.append(entry);
        }
        for (const event of raised) this.webhooks.enqueue(event);
        for (const task of later) {
          this.scheduled += 1;
          setImmediate(() => this.runLater(task));
        }
      },
    };
  }

  /** A change outside any API request (a control call, a deferred task): Stripe's events carry no request then. */
  run<T>(task: (ctx: ApiContext) => T): T {
    const change = this.begin(NO_REQUEST, { record: true });
    try {
      return task(change.ctx);
    } finally {
      change.commit();
    }
  }

  private runLater(task: (ctx: ApiContext) => void): void {
    try {
      this.run(task);
    } catch (error) {
      this.logger.error({ err: error }, 'stripe simulator: a deferred change failed');
    } finally {
      this.scheduled -= 1;
      if (this.scheduled === 0) for (const resolve of this.settledWaiters.splice(0)) resolve();
    }
  }

  /** Resolves once every change scheduled for later has run and its events are delivered (or given up). */
  async settled(): Promise<void> {
    while (this.scheduled > 0) await new Promise<void>((resolve) => this.settledWaiters.push(resolve));
    await this.webhooks.idle();
  }

  advanceClock(seconds: number): void {
    this.clock.advance(seconds);
    this.journal?.append({ clockOffsetMs: this.clock.offsetMs });
  }

  setSearchLag(seconds: number): void {
    this.store.search.setLag(seconds, this.store.paymentIntents.values());
  }

  close(): void {
    this.journal?.close();
  }
}

/** Only what changed: a read-only request writes nothing. */
function journalEntry(changes: StoreChanges, idempotency: IdempotencyRecord | undefined): JournalEntry | undefined {
  const entry: JournalEntry = {};
  if (changes.paymentIntents.length) entry.paymentIntents = changes.paymentIntents;
  if (changes.charges.length) entry.charges = changes.charges;
  if (changes.refunds.length) entry.refunds = changes.refunds;
  if (changes.paymentMethods.length) {
    entry.paymentMethods = changes.paymentMethods;
    entry.paymentMethodSources = changes.paymentMethodSources;
  }
  if (changes.events.length) entry.events = changes.events;
  if (idempotency) entry.idempotency = [idempotency];
  return Object.keys(entry).length ? entry : undefined;
}
