-- Up Migration
-- The expiry and reconciliation jobs call Stripe for pending orders. An order with an open payment
-- anomaly stays pending until a person resolves it, and Stripe may keep failing for one
-- PaymentIntent: such orders are looked at again after an exponentially growing pause, and every run
-- takes a bounded batch of the orders due, least recently looked at first.

create table checkout.pending_order_checks (
  order_id        uuid primary key references checkout.orders (id),
  failures        integer not null check (failures >= 0),
  next_check_at   timestamptz not null,
  last_checked_at timestamptz not null,
  last_outcome    text not null check (last_outcome in ('ok', 'stripe_failed', 'open_anomaly'))
);
comment on table checkout.pending_order_checks is
  'When the background jobs last looked at a pending order at Stripe and when they may look again (record_order_check). No row: never looked at, due.';
comment on column checkout.pending_order_checks.failures is
  'Consecutive checks that failed at Stripe or found an open payment anomaly; the pause before the next check doubles with each (1 minute, 2, 4, … at most 6 hours).';

create index payment_anomalies_open_order_idx on checkout.payment_anomalies (order_id) where resolved_at is null;

create function checkout.record_order_check(p_order_id uuid, p_stripe_failed boolean) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_open_anomaly boolean;
  v_failures     integer;
  v_next         timestamptz;
  v_outcome      text;
begin
  v_open_anomaly := exists (select 1 from checkout.payment_anomalies a where a.order_id = p_order_id and a.resolved_at is null);
  v_outcome := case when p_stripe_failed then 'stripe_failed' when v_open_anomaly then 'open_anomaly' else 'ok' end;
  select c.failures into v_failures from checkout.pending_order_checks c where c.order_id = p_order_id for update;
  v_failures := case when v_outcome = 'ok' then 0 else coalesce(v_failures, 0) + 1 end;
  -- The exponent is capped so that the product stays a valid interval long after the 6 hour cap.
  v_next := now() + case when v_failures = 0 then interval '0'
                         else least(interval '1 minute' * power(2, least(v_failures - 1, 16)), interval '6 hours') end;
  insert into checkout.pending_order_checks as c (order_id, failures, next_check_at, last_checked_at, last_outcome)
  values (p_order_id, v_failures, v_next, now(), v_outcome)
  on conflict (order_id) do update
    set failures = excluded.failures, next_check_at = excluded.next_check_at,
        last_checked_at = excluded.last_checked_at, last_outcome = excluded.last_outcome;
  return jsonb_build_object('outcome', v_outcome, 'failures', v_failures, 'nextCheckAt', v_next);
end;
$$;
comment on function checkout.record_order_check(uuid, boolean) is
  'A job looked at a pending order at Stripe: p_stripe_failed when Stripe failed. A failure or an open payment anomaly of the order backs it off exponentially; anything else makes it due again at once (behind the orders looked at less recently). Returns outcome ok | stripe_failed | open_anomaly, failures, nextCheckAt.';

create function checkout.orders_due_for_check(p_idle interval, p_limit integer, p_payment_intent_required boolean)
  returns table (order_id uuid, payment_intent_id text, idle interval)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select o.id, o.payment_intent_id, now() - o.last_checkout_at
    from checkout.orders o
    left join checkout.pending_order_checks c on c.order_id = o.id
   where o.status = 'PENDING_PAYMENT'
     and o.last_checkout_at < now() - p_idle
     and (o.payment_intent_id is not null or not p_payment_intent_required)
     and (o.checkout_lease_until is null or o.checkout_lease_until <= now())
     and (c.next_check_at is null or c.next_check_at <= now())
   order by coalesce(c.last_checked_at, o.last_checkout_at), o.id
   limit p_limit
$$;
comment on function checkout.orders_due_for_check(interval, integer, boolean) is
  'Expiry and reconciliation jobs: at most p_limit PENDING_PAYMENT orders without checkout activity for p_idle (with a PaymentIntent when p_payment_intent_required), not held by a checkout request, not backed off; least recently looked at first.';

revoke execute on function
  checkout.record_order_check(uuid, boolean),
  checkout.orders_due_for_check(interval, integer, boolean)
  from public;
grant execute on function
  checkout.record_order_check(uuid, boolean),
  checkout.orders_due_for_check(interval, integer, boolean)
  to checkout_app;
-- The jobs list orders through orders_due_for_check now; pending_orders_older_than stays for DBAs
-- (checkout.stale_pending_orders).
revoke execute on function checkout.pending_orders_older_than(interval) from checkout_app;

-- Down Migration
grant execute on function checkout.pending_orders_older_than(interval) to checkout_app;
drop function checkout.orders_due_for_check(interval, integer, boolean);
drop function checkout.record_order_check(uuid, boolean);
drop index checkout.payment_anomalies_open_order_idx;
drop table checkout.pending_order_checks;
