-- Up Migration
-- The expiry job lists idle pending orders, then works on them one by one, calling Stripe in
-- between. A customer may come back at any moment: a resumed checkout attaches a PaymentIntent and
-- returns its client secret, a replay returns the secret again. So the job first claims the order
-- (it takes the checkout lease: every checkout request under the order's key gets 409 until it is
-- done), only if it is still as the job listed it, and expire_order closes only an order the job
-- still holds with the PaymentIntent it cancelled.

create function checkout.claim_order_for_expiry(
  p_order_id uuid, p_payment_intent_id text, p_idle interval, p_lease interval
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
  v_owner uuid;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.status <> 'PENDING_PAYMENT' then
    return jsonb_build_object('outcome', 'closed', 'status', v_order.status);
  end if;
  if v_order.checkout_lease_until > now() then
    return jsonb_build_object('outcome', 'busy');
  end if;
  if v_order.payment_intent_id is distinct from p_payment_intent_id or v_order.last_checkout_at > now() - p_idle then
    return jsonb_build_object('outcome', 'resumed');
  end if;
  v_owner := gen_random_uuid();
  update checkout.orders set checkout_lease_until = now() + p_lease, checkout_lease_owner = v_owner where id = p_order_id;
  return jsonb_build_object('outcome', 'claimed', 'checkoutToken', v_owner);
end;
$$;
comment on function checkout.claim_order_for_expiry(uuid, text, interval, interval) is
  'Expiry job: takes the checkout lease of a PENDING_PAYMENT order for p_lease (outcome claimed, with checkoutToken) if it still has PaymentIntent p_payment_intent_id (or none) and no checkout activity for p_idle. Else outcome resumed (a customer came back), busy (a checkout request holds it) or closed (with its status).';

drop function checkout.expire_order(uuid, text);
create function checkout.expire_order(
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

revoke execute on function
  checkout.claim_order_for_expiry(uuid, text, interval, interval),
  checkout.expire_order(uuid, text, uuid, text)
  from public;
grant execute on function
  checkout.claim_order_for_expiry(uuid, text, interval, interval),
  checkout.expire_order(uuid, text, uuid, text)
  to checkout_app;

-- Down Migration
drop function checkout.expire_order(uuid, text, uuid, text);
drop function checkout.claim_order_for_expiry(uuid, text, interval, interval);
-- expire_order as 0010 made it.
create function checkout.expire_order(p_order_id uuid, p_reason text default 'payment not completed in time')
  returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  if (checkout.lock_order(p_order_id)).checkout_lease_until > now() then
    raise exception 'order % is being checked out right now', p_order_id using errcode = 'CK003';
  end if;
  return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
end;
$$;
comment on function checkout.expire_order(uuid, text) is 'PENDING_PAYMENT -> EXPIRED. Call only after the PaymentIntent was cancelled at Stripe (DESIGN.md). Returns applied, or ignored when already EXPIRED; CK003 while a checkout request holds the order; CK001 otherwise.';
revoke execute on function checkout.expire_order(uuid, text) from public;
grant execute on function checkout.expire_order(uuid, text) to checkout_app;
