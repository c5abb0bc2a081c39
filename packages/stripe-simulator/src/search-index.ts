import type { PaymentIntent } from './objects.ts';

interface Version {
  /** Simulated time (seconds) from which search sees this version. */
  visibleAt: number;
  snapshot: PaymentIntent;
}

/**
 * What Stripe's search sees. Stripe's search is eventually consistent: "data is searchable in
 * under 1 minute", so "don't use search for read-after-write flows" (docs.stripe.com/search,
 * "Data freshness"). By default the simulator has no lag and search sees the objects themselves;
 * with a lag (a test's choice, like a fault) a PaymentIntent created or changed at time t is seen
 * by search only from t + lag, and until then as it was before (or not at all, if it is new).
 */
export class SearchIndex {
  private lag = 0;
  /** Only kept while there is a lag: per PaymentIntent id, its versions oldest first. */
  private readonly versions = new Map<string, Version[]>();

  get lagSeconds(): number {
    return this.lag;
  }

  /** Every PaymentIntent existing now is searchable as it is now; later changes wait `seconds`. */
  setLag(seconds: number, current: Iterable<PaymentIntent>): void {
    if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError('lagSeconds must be a number >= 0');
    this.lag = seconds;
    this.versions.clear();
    if (seconds === 0) return;
    for (const pi of current) this.versions.set(pi.id, [{ visibleAt: Number.NEGATIVE_INFINITY, snapshot: structuredClone(pi) }]);
  }

  /** Called once per committed change with the PaymentIntents it touched. */
  record(paymentIntents: PaymentIntent[], now: number): void {
    if (this.lag === 0) return;
    for (const pi of paymentIntents) {
      const list = this.versions.get(pi.id) ?? [];
      list.push({ visibleAt: now + this.lag, snapshot: structuredClone(pi) });
      // Versions older than the newest one already visible can never be seen again.
      const visible = latestVisibleIndex(list, now);
      this.versions.set(pi.id, visible > 0 ? list.slice(visible) : list);
    }
  }

  /** The PaymentIntents search finds at `now`, as search sees them. */
  visible(live: Iterable<PaymentIntent>, now: number): PaymentIntent[] {
    if (this.lag === 0) return [...live];
    const out: PaymentIntent[] = [];
    for (const list of this.versions.values()) {
      const index = latestVisibleIndex(list, now);
      if (index >= 0) out.push(list[index]!.snapshot);
    }
    return out;
  }
}

function latestVisibleIndex(list: Version[], now: number): number {
  for (let i = list.length - 1; i >= 0; i -= 1) if (list[i]!.visibleAt <= now) return i;
  return -1;
}
