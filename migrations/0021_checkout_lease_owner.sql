-- Up Migration
-- The checkout lease gets an owner: a token create_order hands to the request that holds the lease,
-- which attach_payment_intent and release_checkout_lease require, so a request whose lease ran out
-- and was taken over cannot end (or act on) the lease of the request that took over. The expiry
-- job holds the lease the same way while it cancels at Stripe (0022).
-- Orders also remember their last checkout activity: the expiry age counts from it, not from creation.
alter table checkout.orders
  add column checkout_lease_owner uuid,
  add column last_checkout_at timestamptz;
comment on column checkout.orders.checkout_lease_owner is
  'Token of the request (or expiry job run) that holds, or last held, checkout_lease_until; returned by create_order as checkoutToken.';
comment on column checkout.orders.last_checkout_at is
  'Last checkout activity: created, resumed, replayed to a customer, PaymentIntent attached. The expiry and reconciliation jobs measure age from it.';

-- Existing orders: their last change is the best record of their last activity. The transition
-- trigger would stamp updated_at = now() on every row, so it is off for this one statement.
alter table checkout.orders disable trigger tg_orders__10_enforce_transition;
update checkout.orders set last_checkout_at = updated_at;
alter table checkout.orders enable always trigger tg_orders__10_enforce_transition;
alter table checkout.orders
  alter column last_checkout_at set default now(),
  alter column last_checkout_at set not null;
create index orders_pending_last_checkout_at_idx on checkout.orders (last_checkout_at) where status = 'PENDING_PAYMENT';

create or replace function checkout.create_order(
  p_idempotency_key text, p_customer_id text, p_currency text, p_items jsonb,
  p_lease interval default interval '30 seconds'
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_items       jsonb;
  v_fingerprint text;
  v_order       checkout.orders;
  v_unpriced    text[];
  v_total       numeric;
  v_limits      checkout.currency_limits;
  v_owner       uuid;
begin
  if p_items is null or jsonb_typeof(p_items) <> 'array' or jsonb_array_length(p_items) not between 1 and 100
     or exists (select 1 from jsonb_array_elements(p_items) i
                where jsonb_typeof(i->'sku') is distinct from 'string'
                   or jsonb_typeof(i->'quantity') is distinct from 'number'
                   or (i->>'quantity')::numeric not between 1 and 999
                   or (i->>'quantity')::numeric <> trunc((i->>'quantity')::numeric))
     or (select count(distinct i->>'sku') <> count(*) from jsonb_array_elements(p_items) i) then
    raise exception 'items must be 1..100 distinct SKUs with integer quantities 1..999' using errcode = 'CK007';
  end if;

  -- Canonical form: the same basket in another order is the same request.
  select jsonb_agg(jsonb_build_object('sku', i->>'sku', 'quantity', (i->>'quantity')::int) order by i->>'sku')
    into v_items from jsonb_array_elements(p_items) i;
  v_fingerprint := encode(sha256(convert_to(
    jsonb_build_object('customerId', p_customer_id, 'currency', p_currency, 'items', v_items)::text, 'UTF8')), 'hex');

  -- Serialises requests under one key, including the very first two that race to insert.
  perform pg_advisory_xact_lock(hashtextextended('checkout.idempotency_key:' || p_idempotency_key, 0));

  select * into v_order from checkout.orders where idempotency_key = p_idempotency_key for update;
  if found then
    if v_order.request_fingerprint <> v_fingerprint then
      raise exception 'Idempotency-Key was already used with a different request' using errcode = 'CK002';
    end if;
    -- One answer for the key of a closed order, whether or not it ever had a PaymentIntent: its
    -- client secret would only be misleading (it can no longer be paid).
    if v_order.status in ('CANCELLED', 'EXPIRED', 'REFUNDED') then
      return jsonb_build_object('outcome', 'closed', 'order', checkout.order_json(v_order.id));
    end if;
    if v_order.status = 'PAYMENT_CONFIRMED' then
      return jsonb_build_object('outcome', 'replayed', 'order', checkout.order_json(v_order.id));
    end if;
    -- A request at Stripe for this order, or the expiry job cancelling its PaymentIntent.
    if v_order.checkout_lease_until > now() then
      raise exception 'a request with this Idempotency-Key is still being processed' using errcode = 'CK003';
    end if;
    if v_order.payment_intent_id is not null then
      -- The customer is back to pay: the expiry age starts again.
      update checkout.orders set last_checkout_at = now() where id = v_order.id;
      return jsonb_build_object('outcome', 'replayed', 'order', checkout.order_json(v_order.id));
    end if;
    -- The first attempt failed before a PaymentIntent was attached: this request takes over.
    v_owner := gen_random_uuid();
    update checkout.orders
       set checkout_lease_until = now() + p_lease, checkout_lease_owner = v_owner, last_checkout_at = now()
     where id = v_order.id;
    return jsonb_build_object('outcome', 'resumed', 'order', checkout.order_json(v_order.id), 'checkoutToken', v_owner);
  end if;

  select array_agg(i->>'sku' order by i->>'sku') into v_unpriced
  from jsonb_array_elements(v_items) i
  left join checkout.products p on p.sku = i->>'sku' and p.active and p.currency = p_currency
  where p.sku is null;
  if v_unpriced is not null then
    raise exception 'unknown or inactive SKU in %: %', p_currency, array_to_string(v_unpriced, ', ')
      using errcode = 'CK004', detail = array_to_string(v_unpriced, ',');
  end if;

  select sum(p.unit_amount * (i->>'quantity')::int) into v_total
  from jsonb_array_elements(v_items) i join checkout.products p on p.sku = i->>'sku';
  -- There is a row: every SKU is sold in p_currency, and products.currency references currency_limits.
  select * into strict v_limits from checkout.currency_limits where currency = p_currency;
  if v_total < v_limits.minimum_amount then
    raise exception 'order total % % is below the minimum charge of % % (Stripe amount_too_small)',
      v_total, p_currency, v_limits.minimum_amount, p_currency
      using errcode = 'CK011', detail = v_limits.minimum_amount::text;
  end if;
  if v_total > v_limits.maximum_amount then
    raise exception 'order total % % is above the maximum charge of % % (Stripe amount_too_large)',
      v_total, p_currency, v_limits.maximum_amount, p_currency
      using errcode = 'CK012', detail = v_limits.maximum_amount::text;
  end if;

  v_owner := gen_random_uuid();
  perform checkout.set_transition_context('checkout_api', 'order created', null);
  insert into checkout.orders (customer_id, currency, amount_total, idempotency_key, request_fingerprint,
                               checkout_lease_until, checkout_lease_owner)
  values (p_customer_id, p_currency, v_total, p_idempotency_key, v_fingerprint, now() + p_lease, v_owner)
  returning * into v_order;

  insert into checkout.order_lines (order_id, sku, name, quantity, unit_amount, line_total)
  select v_order.id, p.sku, p.name, (i->>'quantity')::int, p.unit_amount, p.unit_amount * (i->>'quantity')::int
  from jsonb_array_elements(v_items) i join checkout.products p on p.sku = i->>'sku';

  return jsonb_build_object('outcome', 'created', 'order', checkout.order_json(v_order.id), 'checkoutToken', v_owner);
end;
$$;
comment on function checkout.create_order(text, text, text, jsonb, interval) is
  'Phase 1: creates a PENDING_PAYMENT order priced from the catalog and holds its checkout lease for p_lease (outcome created, with checkoutToken), or answers an earlier request''s key: replayed (pending with a PaymentIntent, or confirmed), resumed (no PaymentIntent yet: this request takes the lease, new checkoutToken), closed (CANCELLED, EXPIRED, REFUNDED). Raises CK002, CK003, CK004, CK007, CK011, CK012.';

drop function checkout.attach_payment_intent(uuid, text);
create function checkout.attach_payment_intent(p_order_id uuid, p_payment_intent_id text, p_checkout_token uuid)
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

drop function checkout.release_checkout_lease(uuid);
create function checkout.release_checkout_lease(p_order_id uuid, p_checkout_token uuid) returns boolean
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  with released as (
    update checkout.orders set checkout_lease_until = null
     where id = p_order_id and checkout_lease_owner = p_checkout_token and checkout_lease_until is not null
    returning 1)
  select exists (select 1 from released);
$$;
comment on function checkout.release_checkout_lease(uuid, uuid) is
  'Ends the checkout lease early (the payment provider failed: a retry may resume at once) if p_checkout_token still holds it; true when it did.';

revoke execute on function
  checkout.attach_payment_intent(uuid, text, uuid),
  checkout.release_checkout_lease(uuid, uuid)
  from public;
grant execute on function
  checkout.attach_payment_intent(uuid, text, uuid),
  checkout.release_checkout_lease(uuid, uuid)
  to checkout_app;

-- Down Migration
drop function checkout.release_checkout_lease(uuid, uuid);
drop function checkout.attach_payment_intent(uuid, text, uuid);
-- The functions as 0005 made them.
create function checkout.attach_payment_intent(p_order_id uuid, p_payment_intent_id text) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.payment_intent_id is not null and v_order.payment_intent_id <> p_payment_intent_id then
    raise exception 'order % already has PaymentIntent %', p_order_id, v_order.payment_intent_id using errcode = 'CK009';
  end if;
  update checkout.orders
     set payment_intent_id = p_payment_intent_id, checkout_lease_until = null
   where id = p_order_id;
  return checkout.order_json(p_order_id);
end;
$$;
comment on function checkout.attach_payment_intent(uuid, text) is 'Phase 1: records the PaymentIntent created for the order (idempotent; a different one raises CK009) and ends the checkout lease.';

create function checkout.release_checkout_lease(p_order_id uuid) returns void
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  update checkout.orders set checkout_lease_until = null
   where id = p_order_id and payment_intent_id is null;
$$;
comment on function checkout.release_checkout_lease(uuid) is 'Phase 1: the payment provider failed; a retry with the same Idempotency-Key may resume at once.';

revoke execute on function checkout.attach_payment_intent(uuid, text), checkout.release_checkout_lease(uuid) from public;
grant execute on function checkout.attach_payment_intent(uuid, text), checkout.release_checkout_lease(uuid) to checkout_app;

create or replace function checkout.create_order(
  p_idempotency_key text, p_customer_id text, p_currency text, p_items jsonb,
  p_lease interval default interval '30 seconds'
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_items       jsonb;
  v_fingerprint text;
  v_order       checkout.orders;
  v_unpriced    text[];
  v_total       numeric;
begin
  if p_items is null or jsonb_typeof(p_items) <> 'array' or jsonb_array_length(p_items) not between 1 and 100
     or exists (select 1 from jsonb_array_elements(p_items) i
                where jsonb_typeof(i->'sku') is distinct from 'string'
                   or jsonb_typeof(i->'quantity') is distinct from 'number'
                   or (i->>'quantity')::numeric not between 1 and 999
                   or (i->>'quantity')::numeric <> trunc((i->>'quantity')::numeric))
     or (select count(distinct i->>'sku') <> count(*) from jsonb_array_elements(p_items) i) then
    raise exception 'items must be 1..100 distinct SKUs with integer quantities 1..999' using errcode = 'CK007';
  end if;

  -- Canonical form: the same basket in another order is the same request.
  select jsonb_agg(jsonb_build_object('sku', i->>'sku', 'quantity', (i->>'quantity')::int) order by i->>'sku')
    into v_items from jsonb_array_elements(p_items) i;
  v_fingerprint := encode(sha256(convert_to(
    jsonb_build_object('customerId', p_customer_id, 'currency', p_currency, 'items', v_items)::text, 'UTF8')), 'hex');

  -- Serialises requests under one key, including the very first two that race to insert.
  perform pg_advisory_xact_lock(hashtextextended('checkout.idempotency_key:' || p_idempotency_key, 0));

  select * into v_order from checkout.orders where idempotency_key = p_idempotency_key for update;
  if found then
    if v_order.request_fingerprint <> v_fingerprint then
      raise exception 'Idempotency-Key was already used with a different request' using errcode = 'CK002';
    end if;
    if v_order.payment_intent_id is not null then
      return jsonb_build_object('outcome', 'replayed', 'order', checkout.order_json(v_order.id));
    end if;
    if v_order.checkout_lease_until > now() then
      raise exception 'a request with this Idempotency-Key is still being processed' using errcode = 'CK003';
    end if;
    if v_order.status <> 'PENDING_PAYMENT' then
      raise exception 'order % is % and can no longer be paid', v_order.id, v_order.status using errcode = 'CK010';
    end if;
    -- The first attempt failed before a PaymentIntent was attached: this request takes over.
    update checkout.orders set checkout_lease_until = now() + p_lease where id = v_order.id;
    return jsonb_build_object('outcome', 'resumed', 'order', checkout.order_json(v_order.id));
  end if;

  select array_agg(i->>'sku' order by i->>'sku') into v_unpriced
  from jsonb_array_elements(v_items) i
  left join checkout.products p on p.sku = i->>'sku' and p.active and p.currency = p_currency
  where p.sku is null;
  if v_unpriced is not null then
    raise exception 'unknown or inactive SKU in %: %', p_currency, array_to_string(v_unpriced, ', ')
      using errcode = 'CK004', detail = array_to_string(v_unpriced, ',');
  end if;

  select sum(p.unit_amount * (i->>'quantity')::int) into v_total
  from jsonb_array_elements(v_items) i join checkout.products p on p.sku = i->>'sku';
  -- Stripe's ceiling for a single charge (8 digits in the minor unit).
  if v_total > 99999999 then
    raise exception 'order total % exceeds the largest payable amount 99999999', v_total using errcode = 'CK007';
  end if;

  perform checkout.set_transition_context('checkout_api', 'order created', null);
  insert into checkout.orders (customer_id, currency, amount_total, idempotency_key, request_fingerprint, checkout_lease_until)
  values (p_customer_id, p_currency, v_total, p_idempotency_key, v_fingerprint, now() + p_lease)
  returning * into v_order;

  insert into checkout.order_lines (order_id, sku, name, quantity, unit_amount, line_total)
  select v_order.id, p.sku, p.name, (i->>'quantity')::int, p.unit_amount, p.unit_amount * (i->>'quantity')::int
  from jsonb_array_elements(v_items) i join checkout.products p on p.sku = i->>'sku';

  return jsonb_build_object('outcome', 'created', 'order', checkout.order_json(v_order.id));
end;
$$;
comment on function checkout.create_order(text, text, text, jsonb, interval) is
  'Phase 1: creates a PENDING_PAYMENT order priced from the catalog, or returns the order of an earlier request with the same Idempotency-Key (outcome replayed / resumed). Raises CK002, CK003, CK004, CK007, CK010.';

drop index checkout.orders_pending_last_checkout_at_idx;
alter table checkout.orders drop column last_checkout_at, drop column checkout_lease_owner;
