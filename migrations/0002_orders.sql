-- Up Migration
create type checkout.order_status as enum (
  'PENDING_PAYMENT', 'PAYMENT_CONFIRMED', 'CANCELLED', 'EXPIRED', 'REFUNDED'
);
comment on type checkout.order_status is 'Lifecycle of an order; the legal moves are rows of checkout.order_status_transitions.';

create table checkout.order_status_transitions (
  from_status checkout.order_status not null,
  to_status   checkout.order_status not null,
  primary key (from_status, to_status),
  check (from_status <> to_status)
);
comment on table checkout.order_status_transitions is 'The legal status moves, as data. tg_orders__10_enforce_transition rejects any other change.';
insert into checkout.order_status_transitions (from_status, to_status) values
  ('PENDING_PAYMENT', 'PAYMENT_CONFIRMED'),
  ('PENDING_PAYMENT', 'CANCELLED'),
  ('PENDING_PAYMENT', 'EXPIRED'),
  ('PAYMENT_CONFIRMED', 'REFUNDED');

create table checkout.orders (
  id                  uuid primary key default gen_random_uuid(),
  customer_id         text not null check (length(customer_id) between 1 and 64),
  status              checkout.order_status not null default 'PENDING_PAYMENT',
  currency            text not null check (currency ~ '^[a-z]{3}$'),
  amount_total        bigint not null check (amount_total > 0),
  payment_intent_id   text unique check (payment_intent_id ~ '^pi_[A-Za-z0-9_]+$'),
  amount_received     bigint check (amount_received >= 0),
  amount_refunded     bigint not null default 0 check (amount_refunded >= 0),
  idempotency_key     text not null unique check (length(idempotency_key) between 1 and 255),
  request_fingerprint text not null,
  checkout_lease_until timestamptz,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);
comment on table checkout.orders is 'One row per checkout. Status changes only along checkout.order_status_transitions; each one is audited in order_status_history.';
comment on column checkout.orders.idempotency_key is 'The client''s Idempotency-Key of POST /checkout; a replay returns this order.';
comment on column checkout.orders.request_fingerprint is 'sha256 of the canonical request (customer, currency, sorted items): the same key with another body is refused.';
comment on column checkout.orders.checkout_lease_until is 'Set while a POST /checkout is creating the PaymentIntent; a concurrent request under the same key gets 409 until it passes.';
comment on column checkout.orders.amount_received is 'What Stripe reported as received when the payment was confirmed.';
create index orders_pending_created_at_idx on checkout.orders (created_at) where status = 'PENDING_PAYMENT';

create table checkout.order_lines (
  order_id    uuid not null references checkout.orders (id),
  sku         text not null references checkout.products (sku),
  name        text not null,
  quantity    integer not null check (quantity between 1 and 999),
  unit_amount bigint not null check (unit_amount > 0),
  line_total  bigint not null,
  primary key (order_id, sku),
  check (line_total = unit_amount * quantity)
);
comment on table checkout.order_lines is 'What was sold, with the name and price copied from the catalog at checkout time.';

create table checkout.order_status_history (
  id              bigint generated always as identity primary key,
  order_id        uuid not null references checkout.orders (id),
  from_status     checkout.order_status,
  to_status       checkout.order_status not null,
  at              timestamptz not null default now(),
  source          text not null,
  reason          text,
  stripe_event_id text,
  db_user         text not null default session_user,
  txid            bigint not null default txid_current()
);
comment on table checkout.order_status_history is 'Audit trail: one row per status transition (from_status null: the order was created). Written by triggers; never updated or deleted.';
comment on column checkout.order_status_history.source is 'Who caused it: checkout_api, stripe_webhook, expiry_job, reconciliation, or manual_sql when a session did not say.';
comment on column checkout.order_status_history.db_user is 'session_user: the login that connected, even inside SECURITY DEFINER functions.';
create index order_status_history_order_idx on checkout.order_status_history (order_id, id);

-- The functions that change state say who they are and why through these transaction-local settings.
create function checkout.tg_orders__10_enforce_transition() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  if new.status is distinct from old.status and not exists (
    select 1 from checkout.order_status_transitions t
    where t.from_status = old.status and t.to_status = new.status
  ) then
    raise exception 'illegal order status transition % -> % for order %', old.status, new.status, old.id
      using errcode = 'CK001',
            hint = 'Legal moves are listed in checkout.order_status_transitions.';
  end if;
  if new.id <> old.id or new.customer_id <> old.customer_id or new.currency <> old.currency
     or new.amount_total <> old.amount_total or new.idempotency_key <> old.idempotency_key
     or new.request_fingerprint <> old.request_fingerprint
     or (old.payment_intent_id is not null and new.payment_intent_id is distinct from old.payment_intent_id) then
    raise exception 'order % is immutable except for its status, payment progress and lease', old.id
      using errcode = 'CK001';
  end if;
  new.updated_at := now();
  return new;
end;
$$;
comment on function checkout.tg_orders__10_enforce_transition() is 'Rejects every status change that is not a row of order_status_transitions (SQLSTATE CK001), for every role.';

create function checkout.tg_orders__20_audit_transition() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  insert into checkout.order_status_history (order_id, from_status, to_status, source, reason, stripe_event_id)
  values (
    new.id,
    case when tg_op = 'UPDATE' then old.status end,
    new.status,
    coalesce(nullif(current_setting('checkout.transition_source', true), ''), 'manual_sql'),
    nullif(current_setting('checkout.transition_reason', true), ''),
    nullif(current_setting('checkout.stripe_event_id', true), '')
  );
  return null;
end;
$$;
comment on function checkout.tg_orders__20_audit_transition() is 'Writes one order_status_history row per transition; source/reason/event id come from transaction-local settings checkout.*.';

create function checkout.tg_order_status_history__append_only() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  raise exception 'checkout.order_status_history is append-only' using errcode = 'CK008';
end;
$$;

create trigger tg_orders__10_enforce_transition before update on checkout.orders
  for each row execute function checkout.tg_orders__10_enforce_transition();
create trigger tg_orders__20_audit_insert after insert on checkout.orders
  for each row execute function checkout.tg_orders__20_audit_transition();
create trigger tg_orders__20_audit_transition after update of status on checkout.orders
  for each row when (old.status is distinct from new.status)
  execute function checkout.tg_orders__20_audit_transition();
create trigger tg_order_status_history__append_only before update or delete on checkout.order_status_history
  for each row execute function checkout.tg_order_status_history__append_only();
create trigger tg_order_status_history__no_truncate before truncate on checkout.order_status_history
  for each statement execute function checkout.tg_order_status_history__append_only();

-- ALWAYS: the rules hold even in a session with session_replication_role = replica, which a
-- superuser could otherwise use to skip ordinary triggers.
alter table checkout.orders enable always trigger tg_orders__10_enforce_transition;
alter table checkout.orders enable always trigger tg_orders__20_audit_insert;
alter table checkout.orders enable always trigger tg_orders__20_audit_transition;
alter table checkout.order_status_history enable always trigger tg_order_status_history__append_only;
alter table checkout.order_status_history enable always trigger tg_order_status_history__no_truncate;

-- Down Migration
drop table checkout.order_status_history;
drop function checkout.tg_order_status_history__append_only();
drop table checkout.order_lines;
drop table checkout.orders;
drop function checkout.tg_orders__20_audit_transition();
drop function checkout.tg_orders__10_enforce_transition();
drop table checkout.order_status_transitions;
drop type checkout.order_status;
