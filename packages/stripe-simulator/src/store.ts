import type { Charge, PaymentIntent, PaymentMethod, Refund } from './objects.ts';
import type { StripeEvent } from './events.ts';
import { SearchIndex } from './search-index.ts';

/**
 * A Map that remembers which entries were read or written while recording: a handler that
 * changes an object reaches it through get or set, so the touched entries are what one journal
 * line must hold (iterating with values() is for reading only).
 */
export class TrackedMap<T> extends Map<string, T> {
  private touched: Set<string> | undefined;

  override get(id: string): T | undefined {
    const value = super.get(id);
    if (value !== undefined) this.touched?.add(id);
    return value;
  }

  override set(id: string, value: T): this {
    this.touched?.add(id);
    return super.set(id, value);
  }

  startRecording(): void {
    this.touched = new Set();
  }

  /** The current value of every entry touched since startRecording. */
  finishRecording(): T[] {
    const ids = this.touched ?? new Set<string>();
    this.touched = undefined;
    return [...ids].map((id) => super.get(id)).filter((value): value is T => value !== undefined);
  }
}

/** What one change (a request, a refund failing later) touched: the content of one journal line. */
export interface StoreChanges {
  paymentIntents: PaymentIntent[];
  charges: Charge[];
  refunds: Refund[];
  paymentMethods: PaymentMethod[];
  /** Which test PaymentMethod (e.g. pm_card_visa) each touched PaymentMethod was cloned from. */
  paymentMethodSources: Record<string, string>;
  events: StripeEvent[];
}

/** Everything the simulator knows about objects and events. */
export class Store {
  readonly paymentIntents = new TrackedMap<PaymentIntent>();
  readonly charges = new TrackedMap<Charge>();
  readonly refunds = new TrackedMap<Refund>();
  readonly paymentMethods = new TrackedMap<PaymentMethod>();
  readonly paymentMethodSources = new Map<string, string>();
  readonly events: StripeEvent[] = [];
  readonly search = new SearchIndex();
  private recordedEvents: StripeEvent[] | undefined;

  startRecording(): void {
    for (const map of this.maps()) map.startRecording();
    this.recordedEvents = [];
  }

  finishRecording(): StoreChanges {
    const paymentMethods = this.paymentMethods.finishRecording();
    const changes: StoreChanges = {
      paymentIntents: this.paymentIntents.finishRecording(),
      charges: this.charges.finishRecording(),
      refunds: this.refunds.finishRecording(),
      paymentMethods,
      paymentMethodSources: sourcesOf(paymentMethods, this.paymentMethodSources),
      events: this.recordedEvents ?? [],
    };
    this.recordedEvents = undefined;
    return changes;
  }

  addEvent(event: StripeEvent): void {
    this.events.push(event);
    this.recordedEvents?.push(event);
  }

  /** Puts back what a journal line (or a compacted journal) holds: objects replace older copies. */
  apply(changes: Partial<StoreChanges>): void {
    for (const pi of changes.paymentIntents ?? []) this.paymentIntents.set(pi.id, pi);
    for (const ch of changes.charges ?? []) this.charges.set(ch.id, ch);
    for (const re of changes.refunds ?? []) this.refunds.set(re.id, re);
    for (const pm of changes.paymentMethods ?? []) this.paymentMethods.set(pm.id, pm);
    for (const [id, source] of Object.entries(changes.paymentMethodSources ?? {})) this.paymentMethodSources.set(id, source);
    this.events.push(...(changes.events ?? []));
  }

  /** Stripe keeps events retrievable for 30 days; older ones go (they are in creation order). */
  dropEventsBefore(seconds: number): void {
    const keepFrom = this.events.findIndex((e) => e.created >= seconds);
    this.events.splice(0, keepFrom < 0 ? this.events.length : keepFrom);
  }

  /** Everything, as the changes that would rebuild it. */
  contents(): StoreChanges {
    const paymentMethods = [...this.paymentMethods.values()];
    return {
      paymentIntents: [...this.paymentIntents.values()],
      charges: [...this.charges.values()],
      refunds: [...this.refunds.values()],
      paymentMethods,
      paymentMethodSources: sourcesOf(paymentMethods, this.paymentMethodSources),
      events: [...this.events],
    };
  }

  private maps(): Array<TrackedMap<unknown>> {
    return [this.paymentIntents, this.charges, this.refunds, this.paymentMethods] as Array<TrackedMap<unknown>>;
  }
}

function sourcesOf(paymentMethods: PaymentMethod[], sources: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pm of paymentMethods) {
    const source = sources.get(pm.id);
    if (source !== undefined) out[pm.id] = source;
  }
  return out;
}

/** Stripe lists newest first; ids break ties within the same second in insertion order. */
export function newestFirst<T extends { created: number }>(items: Iterable<T>): T[] {
  return [...items].reverse().sort((a, b) => b.created - a.created);
}
