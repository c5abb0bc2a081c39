-- Up Migration
-- Issue 12: create_order and attach_payment_intent answered with the whole order_json (history and
-- Stripe events aggregated) although POST /checkout shows only the order's core and lines. pgbench
-- on the orders of a bench run (bench/README.md): 8,300 order_json calls/s against 14,200/s for this
-- shape, and a checkout made two such calls. They now answer with checkout_order_json; GET
-- /orders/:orderId keeps order_json. The only change to either function (as 0026 and 0027 left them) is that call (and its comment).
create function checkout.checkout_order_json(p_order_id uuid) returns jsonb
  language sql stable
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select jsonb_build_object(
    'orderId', o.id,
    'status', o.status,
    'currency', o.currency,
    'amountTotal', o.amount_total,
    'paymentIntentId', o.payment_intent_id,
    'lines', checkout.order_lines_json(o.id))
  from checkout.orders o
  where o.id = p_order_id
$$;
comment on function checkout.checkout_order_json(uuid) is
  'An order as POST /checkout shows it (no history, no Stripe events): what create_order and attach_payment_intent answer. Null when there is no such order.';
-- A helper of the two API functions (which run as the owner), not an API of its own.
revoke execute on function checkout.checkout_order_json(uuid) from public;

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
  v_attempt     jsonb;
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
      return jsonb_build_object('outcome', 'closed', 'order', checkout.checkout_order_json(v_order.id));
    end if;
    if v_order.status = 'PAYMENT_CONFIRMED' then
      return jsonb_build_object('outcome', 'replayed', 'order', checkout.checkout_order_json(v_order.id));
    end if;
    -- A request at Stripe for this order, or the expiry job cancelling its PaymentIntent.
    if v_order.checkout_lease_until > now() then
      raise exception 'a request with this Idempotency-Key is still being processed' using errcode = 'CK003';
    end if;
    if v_order.payment_intent_id is not null then
      -- The customer is back to pay: the expiry age starts again.
      update checkout.orders set last_checkout_at = now() where id = v_order.id;
      return jsonb_build_object('outcome', 'replayed', 'order', checkout.checkout_order_json(v_order.id));
    end if;
    -- An earlier attempt ended before a PaymentIntent was attached: this request takes over, with the
    -- next attempt (0025: which Stripe key, whether to search first).
    v_owner := gen_random_uuid();
    update checkout.orders
       set checkout_lease_until = now() + p_lease, checkout_lease_owner = v_owner, last_checkout_at = now()
     where id = v_order.id;
    v_attempt := checkout.begin_checkout_attempt(v_order.id, v_owner);
    return jsonb_build_object('outcome', 'resumed', 'order', checkout.checkout_order_json(v_order.id), 'checkoutToken', v_owner,
                              'attempt', v_attempt);
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

  v_attempt := checkout.begin_checkout_attempt(v_order.id, v_owner);
  return jsonb_build_object('outcome', 'created', 'order', checkout.checkout_order_json(v_order.id), 'checkoutToken', v_owner,
                            'attempt', v_attempt);
end;
$$;
comment on function checkout.create_order(text, text, text, jsonb, interval) is
  'Phase 1: creates a PENDING_PAYMENT order priced from the catalog and holds its checkout lease for p_lease (outcome created, with checkoutToken and the first attempt), or answers an earlier request''s key: replayed (pending with a PaymentIntent, or confirmed), resumed (no PaymentIntent yet: this request takes the lease, new checkoutToken, the next attempt: see begin_checkout_attempt), closed (CANCELLED, EXPIRED, REFUNDED). Raises CK002, CK003, CK004, CK007, CK011, CK012. The order is checkout_order_json''s shape.';

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
    return jsonb_build_object('outcome', 'closed', 'order', checkout.checkout_order_json(p_order_id));
  end if;
  if v_order.payment_intent_id = p_payment_intent_id then
    -- Attached already, e.g. by a request that took over: both asked Stripe under the same key.
    perform checkout.finish_checkout_attempt(p_order_id, p_checkout_token, 'attached', p_payment_intent_id, null);
    return jsonb_build_object('outcome', 'attached', 'order', checkout.checkout_order_json(p_order_id));
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
  return jsonb_build_object('outcome', 'attached', 'order', checkout.checkout_order_json(p_order_id));
end;
$$;
comment on function checkout.attach_payment_intent(uuid, text, uuid) is
  'Phase 1: records the PaymentIntent the attempt of p_checkout_token got (created, replayed or reused) as the order''s, ends that attempt (attached) and the checkout lease, for the holder of p_checkout_token only (CK014 when another request took over). Idempotent for the same PaymentIntent; another one raises CK009. Outcome attached, or closed when the order was closed meanwhile (nothing attached; the attempt ends closed and a sweep is scheduled). The order is checkout_order_json''s shape.';

-- Down Migration
-- The two functions as 0026 and 0027 made them, then the helper.
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
  v_attempt     jsonb;
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
    -- An earlier attempt ended before a PaymentIntent was attached: this request takes over, with the
    -- next attempt (0025: which Stripe key, whether to search first).
    v_owner := gen_random_uuid();
    update checkout.orders
       set checkout_lease_until = now() + p_lease, checkout_lease_owner = v_owner, last_checkout_at = now()
     where id = v_order.id;
    v_attempt := checkout.begin_checkout_attempt(v_order.id, v_owner);
    return jsonb_build_object('outcome', 'resumed', 'order', checkout.order_json(v_order.id), 'checkoutToken', v_owner,
                              'attempt', v_attempt);
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

  v_attempt := checkout.begin_checkout_attempt(v_order.id, v_owner);
  return jsonb_build_object('outcome', 'created', 'order', checkout.order_json(v_order.id), 'checkoutToken', v_owner,
                            'attempt', v_attempt);
end;
$$;
comment on function checkout.create_order(text, text, text, jsonb, interval) is
  'Phase 1: creates a PENDING_PAYMENT order priced from the catalog and holds its checkout lease for p_lease (outcome created, with checkoutToken and the first attempt), or answers an earlier request''s key: replayed (pending with a PaymentIntent, or confirmed), resumed (no PaymentIntent yet: this request takes the lease, new checkoutToken, the next attempt: see begin_checkout_attempt), closed (CANCELLED, EXPIRED, REFUNDED). Raises CK002, CK003, CK004, CK007, CK011, CK012.';

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

drop function checkout.checkout_order_json(uuid);
