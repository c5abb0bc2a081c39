-- Up Migration
-- Issue 9.1: attempts, not one key. Stripe saves the first answer under an idempotency key, 500s
-- included, and replays it for at least 24 hours (https://docs.stripe.com/api/idempotent_requests),
-- so one key per order turned a single Stripe 500 into a 502 on every resume for a day; and a key
-- reused after Stripe pruned it creates a second PaymentIntent. Each POST /checkout that takes an
-- order's checkout lease (create or resume) is now an attempt with its own row, and
-- begin_checkout_attempt (create_order calls it from 0026) decides its key:
-- - the previous attempt got no answer (a timeout, the network, a 429 or 409 Stripe does not save) or
--   its request stopped: Stripe may have created a PaymentIntent under that key and keeps it there,
--   so the new attempt replays the key, which returns exactly that PaymentIntent (or creates it now);
--   only while the key is younger than 23 hours, well inside Stripe's 24;
-- - otherwise (Stripe answered an error it keeps under the key, or the key is old): a new key
--   checkout-order-<id>-<n>, and the service first searches Stripe for what earlier attempts made
--   (searchFirst) and reuses a payable one. Search may lag, so every attempt that ends without a
--   PaymentIntent attached schedules a sweep (0024) that cancels the leftovers later.

create table checkout.checkout_attempts (
  order_id          uuid not null references checkout.orders (id),
  attempt           integer not null check (attempt >= 1),
  idempotency_key   text not null check (length(idempotency_key) <= 255),
  checkout_token    uuid not null,
  started_at        timestamptz not null default now(),
  ended_at          timestamptz,
  outcome           text check (outcome in ('attached', 'closed', 'stripe_error', 'unfinished')),
  payment_intent_id text,
  detail            text check (length(detail) <= 500),
  primary key (order_id, attempt),
  check ((outcome is null) = (ended_at is null))
);
comment on table checkout.checkout_attempts is
  'One row per POST /checkout that held an order''s checkout lease to get its PaymentIntent from Stripe (create_order hands them out): the Stripe idempotency key it used, and how it ended. Business rule: create_order''s resume; see migrations/0025.';
comment on column checkout.checkout_attempts.idempotency_key is
  'Stripe Idempotency-Key of the attempt''s PaymentIntent creation: checkout-order-<order id>-<attempt>, or the previous attempt''s key when that one is replayed (checkout-order-<order id> for attempts made before 0025).';
comment on column checkout.checkout_attempts.checkout_token is 'The checkout lease token of the request making the attempt (orders.checkout_lease_owner).';
comment on column checkout.checkout_attempts.outcome is
  'Null while running. attached: its PaymentIntent (created, replayed or reused) is the order''s; closed: the order was closed meanwhile, its PaymentIntent is cancelled; stripe_error: Stripe answered an error it keeps under the key, or the search failed (the next attempt uses a new key); unfinished: no answer Stripe keeps (timeout, network, 429, 409), or the request stopped (the next attempt replays the key).';
comment on column checkout.checkout_attempts.detail is 'Why it ended so: the Stripe error (type, status, code, request id) or what found it unfinished.';

-- An attempt's end, once: by its own request (p_checkout_token), or, with a null token, whichever
-- attempt of the order is still open because its request stopped without saying how it ended.
create function checkout.finish_checkout_attempt(
  p_order_id uuid, p_checkout_token uuid, p_outcome text, p_payment_intent_id text, p_detail text
) returns void
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  update checkout.checkout_attempts
     set outcome = p_outcome, ended_at = now(), payment_intent_id = p_payment_intent_id, detail = left(p_detail, 500)
   where order_id = p_order_id and outcome is null
     and (checkout_token = p_checkout_token or p_checkout_token is null);
  -- Whatever it may have made at Stripe besides an attached PaymentIntent is for the sweep.
  if found and p_outcome <> 'attached' then
    perform checkout.schedule_payment_intent_sweep(p_order_id);
  end if;
end;
$$;
comment on function checkout.finish_checkout_attempt(uuid, uuid, text, text, text) is
  'Records how the open checkout attempt of p_checkout_token (null: any open one) ended; any end but attached schedules a PaymentIntent sweep. Called by the checkout functions, not by the service.';
revoke execute on function checkout.finish_checkout_attempt(uuid, uuid, text, text, text) from public;

create function checkout.begin_checkout_attempt(p_order_id uuid, p_checkout_token uuid) returns jsonb
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_previous   checkout.checkout_attempts;
  v_first_used timestamptz;
  v_replay     boolean := false;
  v_attempt    integer;
  v_key        text;
begin
  -- Locked: the request of that attempt may be recording its end right now (end_checkout_attempt),
  -- and which end it records decides the key.
  select * into v_previous from checkout.checkout_attempts
   where order_id = p_order_id order by attempt desc limit 1 for update;
  if found and v_previous.outcome is null then
    -- The caller holds the lease, so that attempt's lease ran out: its request stopped (or gave up)
    -- without saying what Stripe did.
    perform checkout.finish_checkout_attempt(p_order_id, null, 'unfinished', null,
      'its request did not report an end before its checkout lease ran out');
    v_previous.outcome := 'unfinished';
  end if;
  if v_previous.outcome = 'unfinished' then
    select min(a.started_at) into v_first_used from checkout.checkout_attempts a
     where a.order_id = p_order_id and a.idempotency_key = v_previous.idempotency_key;
    v_replay := v_first_used > now() - interval '23 hours';
  end if;
  v_attempt := coalesce(v_previous.attempt, 0) + 1;
  v_key := case when v_replay then v_previous.idempotency_key else 'checkout-order-' || p_order_id || '-' || v_attempt end;
  insert into checkout.checkout_attempts (order_id, attempt, idempotency_key, checkout_token)
  values (p_order_id, v_attempt, v_key, p_checkout_token);
  return jsonb_build_object('number', v_attempt, 'idempotencyKey', v_key,
                            'searchFirst', v_attempt > 1 and not v_replay);
end;
$$;
comment on function checkout.begin_checkout_attempt(uuid, uuid) is
  'The next checkout attempt of an order whose lease p_checkout_token now holds: number, Stripe idempotencyKey (the previous attempt''s when it is to be replayed, else checkout-order-<id>-<n>) and searchFirst (look for PaymentIntents of earlier attempts before creating one). Called by create_order.';
revoke execute on function checkout.begin_checkout_attempt(uuid, uuid) from public;

create function checkout.end_checkout_attempt(
  p_order_id uuid, p_checkout_token uuid, p_outcome text, p_detail text
) returns boolean
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  if p_outcome is null or p_outcome not in ('stripe_error', 'unfinished') then
    raise exception 'an attempt ends without a PaymentIntent as stripe_error or unfinished, not %', coalesce(p_outcome, 'null')
      using errcode = '22023';
  end if;
  -- The order first, as create_order and attach_payment_intent lock it before its attempts.
  perform checkout.lock_order(p_order_id);
  perform checkout.finish_checkout_attempt(p_order_id, p_checkout_token, p_outcome, null, p_detail);
  return checkout.release_checkout_lease(p_order_id, p_checkout_token);
end;
$$;
comment on function checkout.end_checkout_attempt(uuid, uuid, text, text) is
  'Phase 1: the attempt of p_checkout_token got no PaymentIntent: stripe_error (Stripe answered an error it keeps under the key, or the search failed: the next attempt takes a new key and searches first) or unfinished (no answer Stripe keeps: the next attempt replays the key). Schedules a sweep and ends the lease early if the token still holds it (true when it did), so the client''s retry resumes at once.';

-- Orders from before attempts: those without a PaymentIntent tried Stripe under checkout-order-<id>
-- (one key per order) and may have left a PaymentIntent there. Their attempt is unfinished, so a
-- resume within 23 hours of the order's creation replays that key; all are swept once settled. A
-- request still running under the old code keeps its attempt open; its attach ends it.
insert into checkout.checkout_attempts (order_id, attempt, idempotency_key, checkout_token, started_at, ended_at, outcome, detail)
select o.id, 1, 'checkout-order-' || o.id, coalesce(o.checkout_lease_owner, gen_random_uuid()), o.created_at,
       case when o.checkout_lease_until > now() then null else now() end,
       case when o.checkout_lease_until > now() then null else 'unfinished' end,
       'made before attempts were recorded (migration 0025), under the order''s one Stripe key'
  from checkout.orders o
 where o.payment_intent_id is null;
insert into checkout.payment_intent_sweeps (order_id, stripe_quiet_at)
select a.order_id, now() from checkout.checkout_attempts a where a.outcome is not null;

revoke execute on function checkout.end_checkout_attempt(uuid, uuid, text, text) from public;
grant execute on function checkout.end_checkout_attempt(uuid, uuid, text, text) to checkout_app;

-- Down Migration
drop function checkout.end_checkout_attempt(uuid, uuid, text, text);
drop function checkout.begin_checkout_attempt(uuid, uuid);
drop function checkout.finish_checkout_attempt(uuid, uuid, text, text, text);
drop table checkout.checkout_attempts;
