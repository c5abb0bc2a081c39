-- Up Migration
create table checkout.stripe_events (
  id                text primary key,
  type              text not null,
  received_at       timestamptz not null default now(),
  outcome           text not null check (outcome in ('applied', 'duplicate', 'ignored', 'anomaly')),
  source            text not null default 'stripe_webhook',
  order_id          uuid references checkout.orders (id),
  payment_intent_id text,
  detail            jsonb
);
comment on table checkout.stripe_events is 'De-duplication ledger of Stripe events, one row per event id, with what applying it did.';
comment on column checkout.stripe_events.outcome is 'applied: changed or recorded something for the order; ignored: no longer applicable; anomaly: see checkout.payment_anomalies. (duplicate is what a redelivery answers; it never replaces the first outcome.)';
comment on column checkout.stripe_events.source is 'stripe_webhook, or reconciliation for a PaymentIntent state fetched from Stripe by a job.';
create index stripe_events_order_idx on checkout.stripe_events (order_id, received_at);

create table checkout.payment_anomalies (
  id                bigint generated always as identity primary key,
  at                timestamptz not null default now(),
  kind              text not null,
  order_id          uuid references checkout.orders (id),
  payment_intent_id text,
  stripe_event_id   text references checkout.stripe_events (id),
  detail            jsonb not null default '{}'::jsonb,
  resolved_at       timestamptz
);
comment on table checkout.payment_anomalies is 'Payments that were not applied and need a person: amount or currency mismatch, unknown order, money received for a closed order, an unexpected cancellation.';
comment on column checkout.payment_anomalies.kind is 'unknown_order | amount_mismatch | currency_mismatch | payment_intent_mismatch | paid_after_close | canceled_after_payment | refund_for_unpaid_order';
create index payment_anomalies_open_idx on checkout.payment_anomalies (at) where resolved_at is null;

-- Down Migration
drop table checkout.payment_anomalies;
drop table checkout.stripe_events;
