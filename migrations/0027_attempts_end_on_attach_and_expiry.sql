-- Up Migration
-- Issue 9.1: an attempt ends when its PaymentIntent is attached (or comes back for an order closed
-- meanwhile), and the expiry of an order ends an attempt whose request stopped without reporting, so
-- that whatever it may have created at Stripe is swept (0024).
create or replace function checkout.attach_payment_intent(p_order_id uuid, p_payment_intent_id text, p_checkout_token uuid)
  returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  -- Closed while this request was at Stripe (its lease ran out and the order expired): nobody may
  -- pay it, so the caller cancels the PaymentIntent it created instead of handing it out.
  if v_order.status in ('CANCELLED', 'EXPIRED', 'REFUNDED') then
    perform checkout.finish_checkout_attempt(p_order_id, p_checkout_token, 'closed', p_payment_intent_id,
      'the order was ' || v_order.status || ' when the PaymentIntent came back');
    return jsonb_build_object('outcome', 'closed', 'order', checkout.order_json(p_order_id));
  end if;
  if v_order.payment_intent_id = p_payment_intent_id then
    -- Attached already, e.g. by a request that took over: both asked Stripe under the same key.
    perform checkout.finish_checkout_attempt(p_order_id, p_checkout_token, 'attached', p_payment_intent_id, null);
    return jsonb_build_object('outcome', 'attached', 'order', checkout.order_json(p_order_id));
  end if;
  if v_order.payment_intent_id is not null then
    raise exception 'order % already has PaymentIntent %', p_order_id, v_order.payment_intent_id using errcode = 'CK009';
  end if;
  if v_order.checkout_lease_owner is distinct from p_checkout_token then
    raise exception 'the checkout of order % was taken over by a newer request', p_order_id using errcode = 'CK014';
  end if;
  update checkout.orders
     set payment_intent_id = p_payment_intent_id, checkout_lease_until = null, last_checkout_at = now()
   where id = p_order_id;
  perform checkout.finish_checkout_attempt(p_order_id, p_checkout_token, 'attached', p_payment_intent_id, null);
  return jsonb_build_object('outcome', 'attached', 'order', checkout.order_json(p_order_id));
end;
$$;
comment on function checkout.attach_payment_intent(uuid, text, uuid) is
  'Phase 1: records the PaymentIntent the attempt of p_checkout_token got (created, replayed or reused) as the order''s, ends that attempt (attached) and the checkout lease, for the holder of p_checkout_token only (CK014 when another request took over). Idempotent for the same PaymentIntent; another one raises CK009. Outcome attached, or closed when the order was closed meanwhile (nothing attached; the attempt ends closed and a sweep is scheduled).';

create or replace function checkout.expire_order(
  p_order_id uuid, p_payment_intent_id text, p_checkout_token uuid, p_reason text default 'payment not completed in time'
) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.status <> 'PENDING_PAYMENT' then
    -- Already EXPIRED (the webhook of the job's own cancel): ignored; closed otherwise: CK001.
    return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
  end if;
  if v_order.payment_intent_id is distinct from p_payment_intent_id then
    raise exception 'order % has PaymentIntent %, not % that the expiry job cancelled', p_order_id,
      coalesce(v_order.payment_intent_id, 'none'), coalesce(p_payment_intent_id, 'none') using errcode = 'CK013';
  end if;
  if v_order.checkout_lease_owner is distinct from p_checkout_token then
    raise exception 'order % is no longer held by this expiry run (a checkout request took it over)', p_order_id
      using errcode = 'CK013';
  end if;
  -- A checkout request that stopped without reporting (the job could claim the order, so its lease ran
  -- out): it may have made a PaymentIntent that is not attached, which the sweep will cancel.
  perform checkout.finish_checkout_attempt(p_order_id, null, 'unfinished', null,
    'its request did not report an end; the order expired');
  return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
end;
$$;
comment on function checkout.expire_order(uuid, text, uuid, text) is
  'PENDING_PAYMENT -> EXPIRED, by the expiry run holding p_checkout_token (claim_order_for_expiry) after it cancelled PaymentIntent p_payment_intent_id at Stripe (or with none). A checkout attempt its request left open ends unfinished (a sweep is scheduled). Returns applied, or ignored when already EXPIRED (e.g. by the webhook of that cancel); CK001 from another closed status; CK013 when the pending order''s PaymentIntent or lease holder differs.';

-- Down Migration
-- The functions as 0021 and 0022 made them.
create or replace function checkout.attach_payment_intent(p_order_id uuid, p_payment_intent_id text, p_checkout_token uuid)
  returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  -- Closed while this request was at Stripe (its lease ran out and the order expired): nobody may
  -- pay it, so the caller cancels the PaymentIntent it created instead of handing it out.
  if v_order.status in ('CANCELLED', 'EXPIRED', 'REFUNDED') then
    return jsonb_build_object('outcome', 'closed', 'order', checkout.order_json(p_order_id));
  end if;
  if v_order.payment_intent_id = p_payment_intent_id then
    -- Attached already, e.g. by a request that took over: both asked Stripe under the same key.
    return jsonb_build_object('outcome', 'attached', 'order', checkout.order_json(p_order_id));
  end if;
  if v_order.payment_intent_id is not null then
    raise exception 'order % already has PaymentIntent %', p_order_id, v_order.payment_intent_id using errcode = 'CK009';
  end if;
  if v_order.checkout_lease_owner is distinct from p_checkout_token then
    raise exception 'the checkout of order % was taken over by a newer request', p_order_id using errcode = 'CK014';
  end if;
  update checkout.orders
     set payment_intent_id = p_payment_intent_id, checkout_lease_until = null, last_checkout_at = now()
   where id = p_order_id;
  return jsonb_build_object('outcome', 'attached', 'order', checkout.order_json(p_order_id));
end;
$$;
comment on function checkout.attach_payment_intent(uuid, text, uuid) is
  'Phase 1: records the PaymentIntent created for the order and ends the checkout lease, for the holder of p_checkout_token only (CK014 when another request took over). Idempotent for the same PaymentIntent; another one raises CK009. Outcome attached, or closed when the order was closed meanwhile (nothing recorded).';

create or replace function checkout.expire_order(
  p_order_id uuid, p_payment_intent_id text, p_checkout_token uuid, p_reason text default 'payment not completed in time'
) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.status <> 'PENDING_PAYMENT' then
    -- Already EXPIRED (the webhook of the job's own cancel): ignored; closed otherwise: CK001.
    return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
  end if;
  if v_order.payment_intent_id is distinct from p_payment_intent_id then
    raise exception 'order % has PaymentIntent %, not % that the expiry job cancelled', p_order_id,
      coalesce(v_order.payment_intent_id, 'none'), coalesce(p_payment_intent_id, 'none') using errcode = 'CK013';
  end if;
  if v_order.checkout_lease_owner is distinct from p_checkout_token then
    raise exception 'order % is no longer held by this expiry run (a checkout request took it over)', p_order_id
      using errcode = 'CK013';
  end if;
  return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
end;
$$;
comment on function checkout.expire_order(uuid, text, uuid, text) is
  'PENDING_PAYMENT -> EXPIRED, by the expiry run holding p_checkout_token (claim_order_for_expiry) after it cancelled PaymentIntent p_payment_intent_id at Stripe (or with none). Returns applied, or ignored when already EXPIRED (e.g. by the webhook of that cancel); CK001 from another closed status; CK013 when the pending order''s PaymentIntent or lease holder differs.';
