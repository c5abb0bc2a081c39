-- Up Migration
-- Issue 9.1: a checkout attempt that failed at Stripe may have left a PaymentIntent nobody holds (a 500
-- saved after Stripe created it, an answer lost on the way back). Stripe's search finds an order's
-- PaymentIntents by metadata.order_id, but late: "data is searchable in under 1 minute ... could be
-- delayed during an outage" (https://docs.stripe.com/search#data-freshness), and outages are when
-- 500s happen. So the sweep job searches once the order's checkout has been quiet at Stripe for the
-- configured allowance, and once more a day later, cancelling every payable PaymentIntent of the order
-- but the attached one. 0025 schedules the sweeps when attempts end without a PaymentIntent attached.

create table checkout.payment_intent_sweeps (
  order_id        uuid primary key references checkout.orders (id),
  stripe_quiet_at timestamptz not null,
  clean_sweeps    integer not null default 0 check (clean_sweeps >= 0),
  failures        integer not null default 0 check (failures >= 0),
  next_sweep_at   timestamptz,
  last_swept_at   timestamptz,
  last_outcome    text check (last_outcome in ('clean', 'stripe_failed', 'still_payable'))
);
comment on table checkout.payment_intent_sweeps is
  'Orders whose checkout attempts may have left PaymentIntents at Stripe that are not the attached one (checkout.checkout_attempts). The sweep job searches Stripe for them and cancels the payable ones: first when the order''s checkout has been quiet at Stripe for the job''s allowance, again a day later; done after two clean sweeps.';
comment on column checkout.payment_intent_sweeps.stripe_quiet_at is
  'No attempt of this order calls Stripe after this moment (the last attempt that ended without attaching, or the lease of one whose request stopped). Search has seen everything once its lag has passed since.';
comment on column checkout.payment_intent_sweeps.clean_sweeps is
  'Sweeps that left no payable PaymentIntent but the attached one since stripe_quiet_at last moved; two end the sweeping.';
comment on column checkout.payment_intent_sweeps.failures is
  'Consecutive sweeps that failed at Stripe or found a PaymentIntent that could not be cancelled yet (processing); the next waits 1 minute, 2, 4 … at most 6 hours.';

create index payment_intent_sweeps_due_idx on checkout.payment_intent_sweeps (stripe_quiet_at) where clean_sweeps < 2;

create function checkout.schedule_payment_intent_sweep(p_order_id uuid) returns void
  language sql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
  insert into checkout.payment_intent_sweeps as s (order_id, stripe_quiet_at)
  values (p_order_id, now())
  on conflict (order_id) do update
    set stripe_quiet_at = greatest(s.stripe_quiet_at, excluded.stripe_quiet_at), clean_sweeps = 0;
$$;
comment on function checkout.schedule_payment_intent_sweep(uuid) is
  'A checkout attempt of the order ended (or was found ended) without attaching a PaymentIntent: its PaymentIntents are to be swept once Stripe''s search has caught up with now. Called by the checkout functions (0025), not by the service.';
revoke execute on function checkout.schedule_payment_intent_sweep(uuid) from public;

create function checkout.orders_due_for_payment_intent_sweep(p_after interval, p_limit integer)
  returns table (order_id uuid, payment_intent_id text, status text)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select o.id, o.payment_intent_id, o.status::text
    from checkout.payment_intent_sweeps s
    join checkout.orders o on o.id = s.order_id
   where s.clean_sweeps < 2
     -- The second sweep a day later: by then search has caught up after an outage too, and Stripe may
     -- have pruned the attempts' idempotency keys (https://docs.stripe.com/api/idempotent_requests).
     and s.stripe_quiet_at <= now() - case when s.clean_sweeps = 0 then p_after else greatest(p_after, interval '1 day') end
     and (s.next_sweep_at is null or s.next_sweep_at <= now())
     -- A pending order without a PaymentIntent may still be resumed, and a resume may reuse what a
     -- sweep would cancel: it is swept once it has one attached, or is closed.
     and (o.status <> 'PENDING_PAYMENT' or o.payment_intent_id is not null)
     and (o.checkout_lease_until is null or o.checkout_lease_until <= now())
   order by coalesce(s.last_swept_at, s.stripe_quiet_at), o.id
   limit p_limit
$$;
comment on function checkout.orders_due_for_payment_intent_sweep(interval, integer) is
  'Sweep job: at most p_limit orders whose PaymentIntents are due for a search at Stripe (quiet for p_after, or for a day since the first clean sweep), with their attached PaymentIntent (the one to keep, or none) and status; not backed off, not pending without a PaymentIntent, not held; least recently swept first.';

create function checkout.record_payment_intent_sweep(p_order_id uuid, p_outcome text) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_sweep checkout.payment_intent_sweeps;
begin
  update checkout.payment_intent_sweeps s
     set clean_sweeps = s.clean_sweeps + case when p_outcome = 'clean' then 1 else 0 end,
         failures = case when p_outcome = 'clean' then 0 else s.failures + 1 end,
         -- As record_order_check (0023): the exponent is capped so the product stays a valid interval.
         next_sweep_at = case when p_outcome = 'clean' then null
                              else now() + least(interval '1 minute' * power(2, least(s.failures, 16)), interval '6 hours') end,
         last_swept_at = now(),
         last_outcome = p_outcome
   where s.order_id = p_order_id
  returning * into v_sweep;
  if not found then
    raise exception 'order % has no PaymentIntent sweep', p_order_id using errcode = 'P0002';
  end if;
  return jsonb_build_object('outcome', v_sweep.last_outcome, 'cleanSweeps', v_sweep.clean_sweeps,
                            'failures', v_sweep.failures, 'nextSweepAt', v_sweep.next_sweep_at);
end;
$$;
comment on function checkout.record_payment_intent_sweep(uuid, text) is
  'Sweep job: p_outcome clean (nothing payable left at Stripe but the attached PaymentIntent), stripe_failed, or still_payable (one could not be cancelled yet, e.g. processing); the last two back the order off exponentially. Returns outcome, cleanSweeps, failures, nextSweepAt.';

revoke execute on function
  checkout.orders_due_for_payment_intent_sweep(interval, integer),
  checkout.record_payment_intent_sweep(uuid, text)
  from public;
grant execute on function
  checkout.orders_due_for_payment_intent_sweep(interval, integer),
  checkout.record_payment_intent_sweep(uuid, text)
  to checkout_app;

-- Down Migration
drop function checkout.record_payment_intent_sweep(uuid, text);
drop function checkout.orders_due_for_payment_intent_sweep(interval, integer);
drop function checkout.schedule_payment_intent_sweep(uuid);
drop table checkout.payment_intent_sweeps;
