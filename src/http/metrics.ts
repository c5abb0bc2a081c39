import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutboxDeliveryStatus } from '../db/checkout-functions.ts';

// Label values come from closed sets, never from what a client sent: an unbounded value (a
// 10,000-character event type, an invented method) would be a new time series each time
// (https://prometheus.io/docs/practices/naming/#labels).
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The request method as a label: the common ones, else `other`. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'other';
}

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
      name: 'checkout_stripe_events_total', help: 'Verified Stripe events by type (the handled types, other, unreadable) and outcome.',
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

/**
 * The outbox's delivery (issue "The tenet in every case"): whether Debezium's replication slot exists
 * and streams, the WAL it has not confirmed, and the age of the oldest outbox row. Read from the
 * database at scrape time, once per scrape; debezium/README.md gives the alert thresholds.
 */
export function registerOutboxGauges(metrics: Metrics, readStatus: () => Promise<OutboxDeliveryStatus>) {
  let pending: { at: number; status: Promise<OutboxDeliveryStatus | undefined> } | undefined;
  // A scrape while the database is down still reports the HTTP metrics (the gauges are then absent).
  const current = () => {
    if (!pending || Date.now() - pending.at > 1000) pending = { at: Date.now(), status: readStatus().catch(() => undefined) };
    return pending.status;
  };
  const gauge = (name: string, help: string, value: (s: OutboxDeliveryStatus) => number | null) =>
    new Gauge({
      name, help, registers: [metrics.registry],
      async collect() {
        this.reset();
        const status = await current();
        const v = status ? value(status) : null;
        if (v !== null) this.set(v);
      },
    });
  gauge('checkout_outbox_slot_exists', 'Whether the replication slot checkout_outbox exists in this database (1) or not (0).', (s) => Number(s.slotExists));
  gauge('checkout_outbox_slot_active', 'Whether a connector streams from the slot right now (1) or not (0).', (s) => Number(s.slotActive));
  gauge('checkout_outbox_slot_lag_bytes', 'WAL bytes the slot has not confirmed: what Debezium has yet to deliver (and PostgreSQL keeps for it).', (s) => s.slotLagBytes);
  gauge('checkout_outbox_oldest_event_age_seconds', 'Age of the oldest outbox row (retention keeps it near OUTBOX_RETENTION_DAYS).', (s) => s.oldestEventAgeSeconds);
}
