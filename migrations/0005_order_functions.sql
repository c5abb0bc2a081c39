-- Up Migration
-- The service's API to the database. Every state change the service makes is one of these
-- functions: SECURITY DEFINER so the application role needs no table privileges, search_path pinned
-- so a caller cannot substitute objects. SQLSTATEs are listed in migrations/CONVENTIONS.md.

create function checkout.order_json(p_order_id uuid) returns jsonb
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select jsonb_build_object(
    'orderId', o.id,
    'customerId', o.customer_id,
    'status', o.status,
    'currency', o.currency,
    'amountTotal', o.amount_total,
    'amountReceived', o.amount_received,
    'amountRefunded', o.amount_refunded,
    'paymentIntentId', o.payment_intent_id,
    'createdAt', o.created_at,
    'updatedAt', o.updated_at,
    'lines', checkout.order_lines_json(o.id),
    'history', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'from', h.from_status, 'to', h.to_status, 'at', h.at,
               'source', h.source, 'reason', h.reason) order by h.id), '[]'::jsonb)
      from checkout.order_status_history h where h.order_id = o.id),
    'paymentEvents', (
      select coalesce(jsonb_agg(jsonb_build_object(
               'stripeEventId', e.id, 'type', e.type, 'at', e.received_at,
               'outcome', e.outcome, 'detail', e.detail) order by e.received_at, e.id), '[]'::jsonb)
      from checkout.stripe_events e where e.order_id = o.id))
  from checkout.orders o
  where o.id = p_order_id
$$;
comment on function checkout.order_json(uuid) is 'An order as the API shows it: lines, transition history, Stripe events. Null when there is no such order.';

create function checkout.set_transition_context(p_source text, p_reason text, p_stripe_event_id text)
  returns void
  language sql volatile
  set search_path = pg_catalog, pg_temp
as $$
  select set_config('checkout.transition_source', coalesce(p_source, ''), true),
         set_config('checkout.transition_reason', coalesce(p_reason, ''), true),
         set_config('checkout.stripe_event_id', coalesce(p_stripe_event_id, ''), true);
$$;
comment on function checkout.set_transition_context(text, text, text) is 'Tells tg_orders__20_audit_transition who makes the next transition in this transaction, and why.';

create function checkout.lock_order(p_order_id uuid) returns checkout.orders
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  select * into v_order from checkout.orders where id = p_order_id for update;
  if not found then
    raise exception 'order % not found', p_order_id using errcode = 'CK005';
  end if;
  return v_order;
end;
$$;
comment on function checkout.lock_order(uuid) is 'The order, locked FOR UPDATE until the end of the transaction (concurrent changes of one order queue here); CK005 when there is none.';

create function checkout.create_order(
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

create function checkout.confirm_payment(
  p_order_id uuid, p_payment_intent_id text, p_amount_received bigint, p_currency text,
  p_source text, p_stripe_event_id text default null
) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.payment_intent_id is not null and v_order.payment_intent_id <> p_payment_intent_id then
    raise exception 'order % is paid through %, not %', p_order_id, v_order.payment_intent_id, p_payment_intent_id
      using errcode = 'CK009';
  end if;
  if p_currency is distinct from v_order.currency then
    raise exception 'currency % received for order % in %', p_currency, p_order_id, v_order.currency
      using errcode = 'CK006', detail = 'currency_mismatch';
  end if;
  if p_amount_received is distinct from v_order.amount_total then
    raise exception 'amount % received for order % of %', p_amount_received, p_order_id, v_order.amount_total
      using errcode = 'CK006', detail = 'amount_mismatch';
  end if;
  if v_order.status = 'PAYMENT_CONFIRMED' then
    return 'ignored';
  end if;
  perform checkout.set_transition_context(p_source, 'payment succeeded', p_stripe_event_id);
  update checkout.orders
     set status = 'PAYMENT_CONFIRMED', payment_intent_id = p_payment_intent_id,
         amount_received = p_amount_received, checkout_lease_until = null
   where id = p_order_id;
  return 'applied';
end;
$$;
comment on function checkout.confirm_payment(uuid, text, bigint, text, text, text) is
  'Phase 2: PENDING_PAYMENT -> PAYMENT_CONFIRMED after checking PaymentIntent, amount and currency (CK009, CK006); writes the OrderConfirmed outbox row through its trigger. Already confirmed: ignored. Any other status: CK001.';

create function checkout.close_order(
  p_order_id uuid, p_status checkout.order_status, p_source text, p_reason text, p_stripe_event_id text
) returns text
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_status checkout.order_status;
begin
  v_status := (checkout.lock_order(p_order_id)).status;
  if v_status = p_status then
    return 'ignored';
  end if;
  perform checkout.set_transition_context(p_source, p_reason, p_stripe_event_id);
  update checkout.orders set status = p_status, checkout_lease_until = null where id = p_order_id;
  return 'applied';
end;
$$;
comment on function checkout.close_order(uuid, checkout.order_status, text, text, text) is 'Shared body of cancel_order and expire_order: repeating the same close is ignored; any other illegal move raises CK001.';

create function checkout.cancel_order(
  p_order_id uuid, p_source text, p_reason text, p_stripe_event_id text default null
) returns text
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select checkout.close_order(p_order_id, 'CANCELLED', p_source, p_reason, p_stripe_event_id);
$$;
comment on function checkout.cancel_order(uuid, text, text, text) is 'PENDING_PAYMENT -> CANCELLED (the PaymentIntent was cancelled). Returns applied, or ignored when already CANCELLED; CK001 otherwise.';

create function checkout.expire_order(p_order_id uuid, p_reason text default 'payment not completed in time')
  returns text
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
$$;
comment on function checkout.expire_order(uuid, text) is 'PENDING_PAYMENT -> EXPIRED. Call only after the PaymentIntent was cancelled at Stripe (DESIGN.md). Returns applied, or ignored when already EXPIRED; CK001 otherwise.';

create function checkout.refund_order(
  p_order_id uuid, p_amount_refunded bigint, p_source text, p_reason text, p_stripe_event_id text default null
) returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.status = 'REFUNDED' or p_amount_refunded <= v_order.amount_refunded then
    return 'ignored';
  end if;
  if v_order.status <> 'PAYMENT_CONFIRMED' then
    raise exception 'order % is % and has no payment to refund', p_order_id, v_order.status using errcode = 'CK001';
  end if;
  perform checkout.set_transition_context(p_source, p_reason, p_stripe_event_id);
  -- A partial refund is recorded on the order; only the full amount moves it to REFUNDED.
  update checkout.orders
     set amount_refunded = p_amount_refunded,
         status = case when p_amount_refunded >= v_order.amount_total then 'REFUNDED'::checkout.order_status
                       else status end
   where id = p_order_id;
  return 'applied';
end;
$$;
comment on function checkout.refund_order(uuid, bigint, text, text, text) is 'Records the cumulative refunded amount; the full amount moves PAYMENT_CONFIRMED -> REFUNDED (CK001 from any other status).';

-- Down Migration
drop function checkout.refund_order(uuid, bigint, text, text, text);
drop function checkout.expire_order(uuid, text);
drop function checkout.cancel_order(uuid, text, text, text);
drop function checkout.close_order(uuid, checkout.order_status, text, text, text);
drop function checkout.confirm_payment(uuid, text, bigint, text, text, text);
drop function checkout.release_checkout_lease(uuid);
drop function checkout.attach_payment_intent(uuid, text);
drop function checkout.create_order(text, text, text, jsonb, interval);
drop function checkout.lock_order(uuid);
drop function checkout.set_transition_context(text, text, text);
drop function checkout.order_json(uuid);
