import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per app, so that several apps in one process (tests) do not share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'checkout_http_requests_total', help: 'HTTP requests by route and status.',
      labelNames: ['method', 'route', 'status'] as const, registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'checkout_http_request_duration_seconds', help: 'HTTP request latency by route and status.',
      labelNames: ['method', 'route', 'status'] as const, registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    checkouts: new Counter({
      name: 'checkout_orders_checkout_total', help: 'POST /checkout results: created, replayed, resumed, closed (the key of a closed order).',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    stripeEvents: new Counter({
      name: 'checkout_stripe_events_total', help: 'Verified Stripe events by type and outcome.',
      labelNames: ['type', 'outcome'] as const, registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Orders by transition, read from the audit trail at scrape time (so every replica agrees). */
export function registerTransitionGauge(metrics: Metrics, readCounts: () => Promise<ReadonlyArray<{ from: string | null; to: string; transitions: number }>>) {
  new Gauge({
    name: 'checkout_order_transitions',
    help: 'Order status transitions recorded so far, by from and to status (from "none": created).',
    labelNames: ['from', 'to'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      // A scrape while the database is down still reports the HTTP metrics.
      const rows = await readCounts().catch(() => []);
      for (const row of rows) this.set({ from: row.from ?? 'none', to: row.to }, row.transitions);
    },
  });
}
