import type { Charge, PaymentIntent, PaymentMethod, Refund } from './objects.ts';
import type { StripeEvent } from './events.ts';

/** Everything the simulator knows, as plain data so it can be written to a state file. */
export interface StoreSnapshot {
  version: 1;
  paymentIntents: PaymentIntent[];
  charges: Charge[];
  refunds: Refund[];
  paymentMethods: PaymentMethod[];
  /** Which test PaymentMethod (e.g. pm_card_visa) each created PaymentMethod was cloned from. */
  paymentMethodSources: Record<string, string>;
  events: StripeEvent[];
}

export class Store {
  readonly paymentIntents = new Map<string, PaymentIntent>();
  readonly charges = new Map<string, Charge>();
  readonly refunds = new Map<string, Refund>();
  readonly paymentMethods = new Map<string, PaymentMethod>();
  readonly paymentMethodSources = new Map<string, string>();
  readonly events: StripeEvent[] = [];

  snapshot(): StoreSnapshot {
    return {
      version: 1,
      paymentIntents: [...this.paymentIntents.values()],
      charges: [...this.charges.values()],
      refunds: [...this.refunds.values()],
      paymentMethods: [...this.paymentMethods.values()],
      paymentMethodSources: Object.fromEntries(this.paymentMethodSources),
      events: this.events,
    };
  }

  restore(snapshot: StoreSnapshot): void {
    for (const pi of snapshot.paymentIntents) this.paymentIntents.set(pi.id, pi);
    for (const ch of snapshot.charges) this.charges.set(ch.id, ch);
    for (const re of snapshot.refunds) this.refunds.set(re.id, re);
    for (const pm of snapshot.paymentMethods) this.paymentMethods.set(pm.id, pm);
    for (const [id, source] of Object.entries(snapshot.paymentMethodSources)) this.paymentMethodSources.set(id, source);
    this.events.push(...snapshot.events);
  }
}

/** Stripe lists newest first; ids break ties within the same second in insertion order. */
export function newestFirst<T extends { created: number }>(items: Iterable<T>): T[] {
  return [...items].reverse().sort((a, b) => b.created - a.created);
}
