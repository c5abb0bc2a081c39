import type { Logger } from 'pino';
import { SimulatedClock } from './clock.ts';
import { IdempotencyStore } from './idempotency.ts';
import { Journal, readJournal, type JournalEntry } from './journal.ts';
import { Store } from './store.ts';

/** Stripe guarantees access to events for 30 days (docs.stripe.com/api/events). */
const EVENT_RETENTION_SECONDS = 30 * 24 * 60 * 60;

export interface RestoredState {
  store: Store;
  clock: SimulatedClock;
  idempotency: IdempotencyStore;
  journal: Journal | undefined;
}

/**
 * Empty state, or the state a journal holds: its lines are applied in order (a later copy of an
 * object replaces an earlier one), then the journal is compacted to one line per object.
 */
export async function restoreState(path: string | undefined, logger: Logger): Promise<RestoredState> {
  const clock = new SimulatedClock();
  const store = new Store();
  const idempotency = new IdempotencyStore(clock);
  if (!path) return { store, clock, idempotency, journal: undefined };

  const read = await readJournal(path, (entry) => {
    if (entry.clockOffsetMs !== undefined) clock.restore(entry.clockOffsetMs);
    store.apply(entry);
    if (entry.idempotency) idempotency.restore(entry.idempotency);
  });
  if (read?.tornTail) {
    logger.warn({ path }, 'stripe simulator journal ended in a torn line (the process was killed while writing it; its answer was never sent): dropped');
  }
  store.dropEventsBefore(clock.nowSeconds() - EVENT_RETENTION_SECONDS);
  const journal = await Journal.create(path, compacted(store, idempotency, clock), (error) => {
    logger.error({ err: error, path }, 'stripe simulator journal write failed: changes from now on will not survive a restart');
  });
  logger.debug({ path, paymentIntents: store.paymentIntents.size, events: store.events.length }, 'stripe simulator state restored');
  return { store, clock, idempotency, journal };
}

/** The whole state, one object per line so that no line grows with the state. */
function* compacted(store: Store, idempotency: IdempotencyStore, clock: SimulatedClock): Generator<JournalEntry> {
  const state = store.contents();
  for (const pm of state.paymentMethods) {
    const source = state.paymentMethodSources[pm.id];
    yield { paymentMethods: [pm], ...(source !== undefined ? { paymentMethodSources: { [pm.id]: source } } : {}) };
  }
  for (const pi of state.paymentIntents) yield { paymentIntents: [pi] };
  for (const charge of state.charges) yield { charges: [charge] };
  for (const refund of state.refunds) yield { refunds: [refund] };
  for (const event of state.events) yield { events: [event] };
  for (const record of idempotency.snapshot()) yield { idempotency: [record] };
  if (clock.offsetMs !== 0) yield { clockOffsetMs: clock.offsetMs };
}
