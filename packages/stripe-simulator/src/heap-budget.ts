import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { StripeApiError } from './errors.ts';

/** The heap's share past which nothing new is created: room left to load the journal at the next start. */
export const DEFAULT_HEAP_BUDGET_FRACTION = 0.6;

/**
 * The simulator keeps what Stripe keeps, and keeps it in this process's heap: every object, events
 * for 30 days, idempotency keys for 24 hours (about 5 KB per PaymentIntent). Stripe has no such
 * limit; a process with a capped heap does (npm start's service: 256 MiB, the simulator inside it).
 * Rather than let that process die out of memory and leave a journal too large to load again, the
 * simulator refuses to create more once the heap still in use after a full collection passes
 * `fraction` of its limit. The heap in use right now would not do: it counts garbage that the next
 * collection frees.
 */
export class HeapBudget {
  private liveBytes = 0;
  private readonly observer = new PerformanceObserver((list) => {
    if (list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) {
      this.liveBytes = getHeapStatistics().used_heap_size;
    }
  });
  /** The heap's limit is fixed when the process starts (--max-old-space-size and the like). */
  private readonly limitBytes = getHeapStatistics().heap_size_limit;
  private readonly budgetBytes: number;

  constructor(fraction: number = DEFAULT_HEAP_BUDGET_FRACTION) {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`heapBudgetFraction must be between 0 and 1, got ${fraction}`);
    this.budgetBytes = fraction * this.limitBytes;
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Throws the simulator's refusal when the heap is past the budget. */
  check(): void {
    if (this.liveBytes <= this.budgetBytes) return;
    const limit = this.limitBytes;
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    throw new StripeApiError(500, {
      type: 'api_error',
      code: 'simulator_memory_full',
      message: `The Stripe simulator is full: it keeps every object as Stripe does, in this process's heap, and ${mib(this.liveBytes)} of its ${mib(limit)} MiB `
        + 'are in use after a full collection. It creates nothing more; reads still work. Start it again with a new state file '
        + '(npm start: delete DATA_DIR/stripe-simulator.jsonl), or run it in a process of its own for load.',
    }, { stored: false, headers: { 'Stripe-Should-Retry': 'false' } });
  }

  close(): void {
    this.observer.disconnect();
  }
}
