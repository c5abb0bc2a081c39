-- Up Migration
-- A refunded payment is never sent as OrderConfirmed, and refunds reach the ERP as OrderRefunded
-- (issue "The tenet in every case", CONTRACT.md "Kafka: OrderRefunded").

-- A payment refunded in full before its confirmation was applied closes the order without any
-- event: the goods must not ship and there is nothing for the ERP to undo.
insert into checkout.order_status_transitions (from_status, to_status) values ('PENDING_PAYMENT', 'REFUNDED');

alter table checkout.orders
  add column charge_id text check (charge_id ~ '^ch_[A-Za-z0-9_]+$'),
  add column confirmed_event_id uuid unique;
comment on column checkout.orders.charge_id is 'The Stripe Charge that refunds were made against (from charge.refunded, or the PaymentIntent''s latest_charge).';
comment on column checkout.orders.confirmed_event_id is 'Event id of this order''s OrderConfirmed; OrderRefunded names it (confirmedEventId), also after outbox retention removed the row.';
comment on column checkout.orders.amount_refunded is 'Stripe''s cumulative amount refunded on the charge. Recorded on a pending order too (a refund that arrived before the payment was confirmed) and applied at confirmation.';

-- The OrderConfirmed event id is chosen before the row is written, so the order keeps it.
create function checkout.tg_orders__15_assign_confirmed_event_id() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  new.confirmed_event_id := gen_random_uuid();
  return new;
end;
$$;
comment on function checkout.tg_orders__15_assign_confirmed_event_id() is 'Gives an order entering PAYMENT_CONFIRMED the id of its OrderConfirmed event (written by tg_orders__30_outbox_order_confirmed).';
revoke execute on function checkout.tg_orders__15_assign_confirmed_event_id() from public;
create trigger tg_orders__15_assign_confirmed_event_id before update of status on checkout.orders
  for each row when (new.status = 'PAYMENT_CONFIRMED' and old.status is distinct from new.status)
  execute function checkout.tg_orders__15_assign_confirmed_event_id();
alter table checkout.orders enable always trigger tg_orders__15_assign_confirmed_event_id;

create or replace function checkout.tg_orders__30_outbox_order_confirmed() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload)
  values (new.confirmed_event_id, 'Order', new.id::text, 'OrderConfirmed',
          checkout.order_confirmed_payload(new.id, new.confirmed_event_id, now()));
  return null;
end;
$$;

create function checkout.order_refunded_payload(p_order_id uuid, p_event_id uuid, p_occurred_at timestamptz, p_amount_refunded bigint)
  returns jsonb
  language sql stable
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select jsonb_build_object(
    'eventId', p_event_id,
    'eventType', 'OrderRefunded',
    'schemaVersion', 1,
    'occurredAt', to_char(p_occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'orderId', o.id,
    'confirmedEventId', o.confirmed_event_id,
    'currency', o.currency,
    'amountRefunded', p_amount_refunded,
    'amountRefundedTotal', o.amount_refunded,
    'refundedInFull', o.amount_refunded >= o.amount_total,
    'payment', jsonb_build_object(
      'provider', 'stripe',
      'paymentIntentId', o.payment_intent_id,
      'chargeId', o.charge_id))
  from checkout.orders o
  where o.id = p_order_id
$$;
comment on function checkout.order_refunded_payload(uuid, uuid, timestamptz, bigint) is 'The OrderRefunded event of CONTRACT.md (schema: src/events/order-refunded.v1.schema.json).';
revoke execute on function checkout.order_refunded_payload(uuid, uuid, timestamptz, bigint) from public;

-- One OrderRefunded per refund applied to a confirmed order: a refund of a PAYMENT_CONFIRMED order,
-- or the refunds recorded while the order was pending, at the moment it is confirmed (then after
-- the OrderConfirmed row: triggers of one event fire in name order).
create function checkout.tg_orders__40_outbox_order_refunded() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_event_id uuid := gen_random_uuid();
  v_this_refund bigint := new.amount_refunded - case when old.status = 'PENDING_PAYMENT' then 0 else old.amount_refunded end;
begin
  insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload)
  values (v_event_id, 'Order', new.id::text, 'OrderRefunded',
          checkout.order_refunded_payload(new.id, v_event_id, now(), v_this_refund));
  return null;
end;
$$;
comment on function checkout.tg_orders__40_outbox_order_refunded() is 'Writes the OrderRefunded outbox row in the transaction that applies a refund to a confirmed order (or confirms an order with refunds recorded).';
revoke execute on function checkout.tg_orders__40_outbox_order_refunded() from public;
create trigger tg_orders__40_outbox_order_refunded after update of status, amount_refunded on checkout.orders
  for each row when (
    (old.status = 'PENDING_PAYMENT' and new.status = 'PAYMENT_CONFIRMED' and new.amount_refunded > 0)
    or (old.status = 'PAYMENT_CONFIRMED' and new.amount_refunded > old.amount_refunded))
  execute function checkout.tg_orders__40_outbox_order_refunded();
alter table checkout.orders enable always trigger tg_orders__40_outbox_order_refunded;

-- p_amount_refunded is Stripe's cumulative charge.amount_refunded, so a repeated or older event
-- changes nothing.
create function checkout.record_refund(
  p_order_id uuid, p_amount_refunded bigint, p_charge_id text, p_source text, p_reason text, p_stripe_event_id text
) returns text
  language plpgsql volatile
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_order checkout.orders;
begin
  v_order := checkout.lock_order(p_order_id);
  if v_order.status = 'REFUNDED' or p_amount_refunded <= v_order.amount_refunded then
    return 'ignored';
  end if;
  if v_order.status not in ('PENDING_PAYMENT', 'PAYMENT_CONFIRMED') then
    raise exception 'order % is % and has no payment to refund', p_order_id, v_order.status using errcode = 'CK001';
  end if;
  perform checkout.set_transition_context(p_source, p_reason, p_stripe_event_id);
  -- Pending: recorded only, applied when the payment is confirmed (confirm_payment). Confirmed: the
  -- full amount moves it to REFUNDED; either way tg_orders__40 writes the OrderRefunded row.
  update checkout.orders
     set amount_refunded = p_amount_refunded,
         charge_id = coalesce(p_charge_id, charge_id),
         status = case when status = 'PAYMENT_CONFIRMED' and p_amount_refunded >= amount_total
                       then 'REFUNDED'::checkout.order_status else status end
   where id = p_order_id;
  return 'applied';
end;
$$;
comment on function checkout.record_refund(uuid, bigint, text, text, text, text) is 'Records Stripe''s cumulative refunded amount: on a confirmed order it writes OrderRefunded (and REFUNDED when full); on a pending order it waits for the confirmation. CK001 for a cancelled or expired order.';
revoke execute on function checkout.record_refund(uuid, bigint, text, text, text, text) from public;

create or replace function checkout.refund_order(
  p_order_id uuid, p_amount_refunded bigint, p_source text, p_reason text, p_stripe_event_id text default null
) returns text
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select checkout.record_refund(p_order_id, p_amount_refunded, null, p_source, p_reason, p_stripe_event_id);
$$;
comment on function checkout.refund_order(uuid, bigint, text, text, text) is 'Records the cumulative refunded amount (see record_refund): on a confirmed order OrderRefunded, and REFUNDED when full; on a pending order applied at confirmation. CK001 from a cancelled or expired order.';

create or replace function checkout.confirm_payment(
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
  if v_order.status = 'PENDING_PAYMENT' and v_order.amount_refunded >= v_order.amount_total then
    -- The money went back before we confirmed: close without OrderConfirmed (nothing to ship).
    perform checkout.set_transition_context(p_source, 'payment refunded in full before confirmation', p_stripe_event_id);
    update checkout.orders
       set status = 'REFUNDED', payment_intent_id = p_payment_intent_id,
           amount_received = p_amount_received, checkout_lease_until = null
     where id = p_order_id;
    return 'applied';
  end if;
  perform checkout.set_transition_context(p_source,
    case when v_order.amount_refunded > 0 then 'payment succeeded, partly refunded before confirmation' else 'payment succeeded' end,
    p_stripe_event_id);
  update checkout.orders
     set status = 'PAYMENT_CONFIRMED', payment_intent_id = p_payment_intent_id,
         amount_received = p_amount_received, checkout_lease_until = null
   where id = p_order_id;
  return 'applied';
end;
$$;
comment on function checkout.confirm_payment(uuid, text, bigint, text, text, text) is
  'Phase 2: PENDING_PAYMENT -> PAYMENT_CONFIRMED after checking PaymentIntent, amount and currency (CK009, CK006): OrderConfirmed, then OrderRefunded when refunds were recorded while pending. Refunded in full while pending: -> REFUNDED without events. Already confirmed: ignored. Any other status: CK001.';

create or replace function checkout.apply_stripe_event(
  p_event_id text, p_type text, p_object jsonb, p_source text default 'stripe_webhook'
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_pi       text;
  v_order_id uuid;
  v_order    checkout.orders;
  v_outcome  text;
  v_anomaly  text;
  v_detail   jsonb := '{}'::jsonb;
  v_charge   jsonb;
begin
  -- The ledger row is the de-duplication: a concurrent delivery of the same event waits on this
  -- insert and then finds the row.
  insert into checkout.stripe_events (id, type, outcome, source)
  values (p_event_id, p_type, 'ignored', p_source)
  on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'duplicate',
      'orderId', (select order_id from checkout.stripe_events where id = p_event_id));
  end if;

  if p_type not in ('payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled',
                    'charge.refunded', 'charge.refund.updated') then
    return jsonb_build_object('outcome', 'ignored', 'orderId', null);
  end if;

  v_pi := case when p_type like 'charge.%' then p_object->>'payment_intent' else p_object->>'id' end;
  -- metadata.order_id first: the webhook can arrive before the PaymentIntent id is attached.
  if (p_object->'metadata'->>'order_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    v_order_id := (p_object->'metadata'->>'order_id')::uuid;
  end if;
  select * into v_order from checkout.orders
   where id = v_order_id or (v_order_id is null and payment_intent_id = v_pi)
   for update;

  if not found then
    v_anomaly := 'unknown_order';
  elsif v_order.payment_intent_id is not null and v_order.payment_intent_id <> v_pi then
    -- Only money taken through another PaymentIntent needs a person; its other events do not.
    v_anomaly := case when p_type = 'payment_intent.succeeded' then 'payment_intent_mismatch' end;
    v_outcome := 'ignored';
  elsif p_type = 'payment_intent.succeeded' then
    if v_order.status in ('CANCELLED', 'EXPIRED') then
      v_anomaly := 'paid_after_close';
    elsif v_order.status in ('PAYMENT_CONFIRMED', 'REFUNDED') then
      v_outcome := 'ignored';
    elsif p_object->>'currency' is distinct from v_order.currency then
      v_anomaly := 'currency_mismatch';
    elsif (p_object->>'amount_received')::bigint is distinct from v_order.amount_total then
      v_anomaly := 'amount_mismatch';
    else
      -- Reconciliation fetches the PaymentIntent with its latest charge expanded: a refund seen
      -- there counts as if its charge.refunded had arrived first.
      v_charge := p_object->'latest_charge';
      if jsonb_typeof(v_charge) = 'object' and (v_charge->>'amount_refunded')::bigint > v_order.amount_refunded then
        perform checkout.record_refund(v_order.id, (v_charge->>'amount_refunded')::bigint, v_charge->>'id', p_source,
          'refund seen with the payment', p_event_id);
        v_detail := jsonb_build_object('amountRefunded', (v_charge->>'amount_refunded')::bigint, 'chargeId', v_charge->>'id');
      end if;
      v_outcome := checkout.confirm_payment(v_order.id, v_pi, (p_object->>'amount_received')::bigint,
                                            p_object->>'currency', p_source, p_event_id);
    end if;
  elsif p_type = 'payment_intent.payment_failed' then
    -- The customer may try again with the same PaymentIntent: record it, keep the status.
    v_outcome := case when v_order.status = 'PENDING_PAYMENT' then 'applied' else 'ignored' end;
    v_detail := jsonb_build_object('code', p_object->'last_payment_error'->>'code',
                                   'declineCode', p_object->'last_payment_error'->>'decline_code',
                                   'message', p_object->'last_payment_error'->>'message');
  elsif p_type = 'payment_intent.canceled' then
    if v_order.status in ('PAYMENT_CONFIRMED', 'REFUNDED') then
      v_anomaly := 'canceled_after_payment';
    elsif v_order.status in ('CANCELLED', 'EXPIRED') then
      v_outcome := 'ignored'; -- e.g. the expiry job cancelled the PaymentIntent itself
    elsif p_object->>'cancellation_reason' = 'abandoned' then
      -- The expiry job cancels with reason 'abandoned'; its webhook may arrive before the job's own
      -- expire_order call, and must then end the order the same way.
      v_outcome := checkout.close_order(v_order.id, 'EXPIRED', p_source, 'PaymentIntent canceled: abandoned', p_event_id);
    else
      v_outcome := checkout.cancel_order(v_order.id, p_source,
        coalesce('PaymentIntent canceled: ' || (p_object->>'cancellation_reason'), 'PaymentIntent canceled'), p_event_id);
    end if;
  elsif p_type = 'charge.refunded' then
    v_detail := jsonb_build_object('amountRefunded', (p_object->>'amount_refunded')::bigint, 'chargeId', p_object->>'id');
    if v_order.status in ('CANCELLED', 'EXPIRED') then
      v_anomaly := 'refund_for_unpaid_order';
    elsif p_object->>'currency' is distinct from v_order.currency then
      v_anomaly := 'currency_mismatch';
    elsif (p_object->>'amount_refunded')::bigint > v_order.amount_total then
      v_anomaly := 'amount_mismatch';
    else
      -- Before the confirmation the refund is recorded and applied when the payment is confirmed.
      v_outcome := checkout.record_refund(v_order.id, (p_object->>'amount_refunded')::bigint, p_object->>'id', p_source,
        case when v_order.status = 'PENDING_PAYMENT' then 'refund before confirmation'
             when (p_object->>'amount_refunded')::bigint >= v_order.amount_total then 'refunded in full'
             else 'partial refund' end,
        p_event_id);
    end if;
  else -- charge.refund.updated
    v_detail := jsonb_build_object('refundId', p_object->>'id', 'refundStatus', p_object->>'status',
      'amount', (p_object->>'amount')::bigint, 'chargeId', p_object->>'charge', 'failureReason', p_object->>'failure_reason');
    if p_object->>'status' in ('failed', 'canceled') then
      -- The money did not go back after all (Stripe lowers the charge's amount_refunded too). Before
      -- the confirmation nothing was published: the recorded amount is lowered, so the confirmation
      -- does not announce it. After it, an OrderRefunded is out and REFUNDED has no way back: a
      -- person decides either way (the customer still expects the refund).
      if v_order.status = 'PENDING_PAYMENT' then
        update checkout.orders set amount_refunded = greatest(amount_refunded - (p_object->>'amount')::bigint, 0)
         where id = v_order.id;
      end if;
      v_anomaly := 'refund_failed';
    else
      v_outcome := 'ignored';
    end if;
  end if;

  if v_anomaly is not null then
    v_outcome := 'anomaly';
    v_detail := v_detail || jsonb_build_object('orderStatus', v_order.status, 'orderAmount', v_order.amount_total,
      'orderCurrency', v_order.currency, 'orderPaymentIntentId', v_order.payment_intent_id,
      'amountReceived', p_object->'amount_received', 'currency', p_object->>'currency');
    insert into checkout.payment_anomalies (kind, order_id, payment_intent_id, stripe_event_id, detail)
    values (v_anomaly, v_order.id, v_pi, p_event_id, v_detail);
  end if;

  update checkout.stripe_events
     set outcome = v_outcome, order_id = v_order.id, payment_intent_id = v_pi, detail = nullif(v_detail, '{}'::jsonb)
   where id = p_event_id;
  return jsonb_build_object('outcome', v_outcome, 'orderId', v_order.id, 'anomaly', v_anomaly);
end;
$$;
comment on function checkout.apply_stripe_event(text, text, jsonb, text) is
  'Phase 2: applies one verified Stripe event (or a PaymentIntent state fetched by reconciliation) in one transaction: ledger, order lookup by metadata.order_id, amount/currency checks, transition, refunds (recorded while pending, OrderRefunded once confirmed), failed refunds as anomalies. Returns outcome applied | duplicate | ignored | anomaly.';
comment on column checkout.payment_anomalies.kind is 'unknown_order | amount_mismatch | currency_mismatch | payment_intent_mismatch | paid_after_close | canceled_after_payment | refund_for_unpaid_order | refund_failed | unreadable_event (0030)';

-- Down Migration
comment on column checkout.payment_anomalies.kind is 'unknown_order | amount_mismatch | currency_mismatch | payment_intent_mismatch | paid_after_close | canceled_after_payment | refund_for_unpaid_order';
drop function checkout.record_refund(uuid, bigint, text, text, text, text);
drop trigger tg_orders__40_outbox_order_refunded on checkout.orders;
drop function checkout.tg_orders__40_outbox_order_refunded();
drop function checkout.order_refunded_payload(uuid, uuid, timestamptz, bigint);
drop trigger tg_orders__15_assign_confirmed_event_id on checkout.orders;
drop function checkout.tg_orders__15_assign_confirmed_event_id();
comment on column checkout.orders.amount_refunded is null;
alter table checkout.orders drop column confirmed_event_id, drop column charge_id;
delete from checkout.order_status_transitions where from_status = 'PENDING_PAYMENT' and to_status = 'REFUNDED';

-- The functions as 0003, 0005 and 0006 left them.

create or replace function checkout.apply_stripe_event(
  p_event_id text, p_type text, p_object jsonb, p_source text default 'stripe_webhook'
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_pi       text;
  v_order_id uuid;
  v_order    checkout.orders;
  v_outcome  text;
  v_anomaly  text;
  v_detail   jsonb := '{}'::jsonb;
begin
  -- The ledger row is the de-duplication: a concurrent delivery of the same event waits on this
  -- insert and then finds the row.
  insert into checkout.stripe_events (id, type, outcome, source)
  values (p_event_id, p_type, 'ignored', p_source)
  on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'duplicate',
      'orderId', (select order_id from checkout.stripe_events where id = p_event_id));
  end if;

  if p_type not in ('payment_intent.succeeded', 'payment_intent.payment_failed',
                    'payment_intent.canceled', 'charge.refunded') then
    return jsonb_build_object('outcome', 'ignored', 'orderId', null);
  end if;

  v_pi := case when p_type = 'charge.refunded' then p_object->>'payment_intent' else p_object->>'id' end;
  -- metadata.order_id first: the webhook can arrive before the PaymentIntent id is attached.
  if (p_object->'metadata'->>'order_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    v_order_id := (p_object->'metadata'->>'order_id')::uuid;
  end if;
  select * into v_order from checkout.orders
   where id = v_order_id or (v_order_id is null and payment_intent_id = v_pi)
   for update;

  if not found then
    v_anomaly := 'unknown_order';
  elsif v_order.payment_intent_id is not null and v_order.payment_intent_id <> v_pi then
    -- Only money taken through another PaymentIntent needs a person; its other events do not.
    v_anomaly := case when p_type = 'payment_intent.succeeded' then 'payment_intent_mismatch' end;
    v_outcome := 'ignored';
  elsif p_type = 'payment_intent.succeeded' then
    if v_order.status in ('CANCELLED', 'EXPIRED', 'REFUNDED') then
      v_anomaly := 'paid_after_close';
    elsif v_order.status = 'PAYMENT_CONFIRMED' then
      v_outcome := 'ignored';
    elsif p_object->>'currency' is distinct from v_order.currency then
      v_anomaly := 'currency_mismatch';
    elsif (p_object->>'amount_received')::bigint is distinct from v_order.amount_total then
      v_anomaly := 'amount_mismatch';
    else
      v_outcome := checkout.confirm_payment(v_order.id, v_pi, (p_object->>'amount_received')::bigint,
                                            p_object->>'currency', p_source, p_event_id);
    end if;
  elsif p_type = 'payment_intent.payment_failed' then
    -- The customer may try again with the same PaymentIntent: record it, keep the status.
    v_outcome := case when v_order.status = 'PENDING_PAYMENT' then 'applied' else 'ignored' end;
    v_detail := jsonb_build_object('code', p_object->'last_payment_error'->>'code',
                                   'declineCode', p_object->'last_payment_error'->>'decline_code',
                                   'message', p_object->'last_payment_error'->>'message');
  elsif p_type = 'payment_intent.canceled' then
    if v_order.status in ('PAYMENT_CONFIRMED', 'REFUNDED') then
      v_anomaly := 'canceled_after_payment';
    elsif v_order.status in ('CANCELLED', 'EXPIRED') then
      v_outcome := 'ignored'; -- e.g. the expiry job cancelled the PaymentIntent itself
    elsif p_object->>'cancellation_reason' = 'abandoned' then
      -- The expiry job cancels with reason 'abandoned'; its webhook may arrive before the job's own
      -- expire_order call, and must then end the order the same way.
      v_outcome := checkout.close_order(v_order.id, 'EXPIRED', p_source, 'PaymentIntent canceled: abandoned', p_event_id);
    else
      v_outcome := checkout.cancel_order(v_order.id, p_source,
        coalesce('PaymentIntent canceled: ' || (p_object->>'cancellation_reason'), 'PaymentIntent canceled'), p_event_id);
    end if;
  else -- charge.refunded
    v_detail := jsonb_build_object('amountRefunded', (p_object->>'amount_refunded')::bigint);
    if v_order.status not in ('PAYMENT_CONFIRMED', 'REFUNDED') then
      v_anomaly := 'refund_for_unpaid_order';
    elsif p_object->>'currency' is distinct from v_order.currency then
      v_anomaly := 'currency_mismatch';
    else
      v_outcome := checkout.refund_order(v_order.id, (p_object->>'amount_refunded')::bigint, p_source,
        case when (p_object->>'refunded')::boolean then 'refunded in full' else 'partial refund' end, p_event_id);
    end if;
  end if;

  if v_anomaly is not null then
    v_outcome := 'anomaly';
    v_detail := v_detail || jsonb_build_object('orderStatus', v_order.status, 'orderAmount', v_order.amount_total,
      'orderCurrency', v_order.currency, 'orderPaymentIntentId', v_order.payment_intent_id,
      'amountReceived', p_object->'amount_received', 'currency', p_object->>'currency');
    insert into checkout.payment_anomalies (kind, order_id, payment_intent_id, stripe_event_id, detail)
    values (v_anomaly, v_order.id, v_pi, p_event_id, v_detail);
  end if;

  update checkout.stripe_events
     set outcome = v_outcome, order_id = v_order.id, payment_intent_id = v_pi, detail = nullif(v_detail, '{}'::jsonb)
   where id = p_event_id;
  return jsonb_build_object('outcome', v_outcome, 'orderId', v_order.id, 'anomaly', v_anomaly);
end;
$$;
comment on function checkout.apply_stripe_event(text, text, jsonb, text) is
  'Phase 2: applies one verified Stripe event (or a PaymentIntent state fetched by reconciliation) in one transaction: ledger, order lookup by metadata.order_id, amount/currency checks, transition. Returns outcome applied | duplicate | ignored | anomaly.';

create or replace function checkout.confirm_payment(
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

create or replace function checkout.refund_order(
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

create or replace function checkout.tg_orders__30_outbox_order_confirmed() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_event_id uuid := gen_random_uuid();
begin
  insert into checkout.outbox (id, aggregatetype, aggregateid, type, payload)
  values (v_event_id, 'Order', new.id::text, 'OrderConfirmed',
          checkout.order_confirmed_payload(new.id, v_event_id, now()));
  return null;
end;
$$;
comment on function checkout.tg_orders__30_outbox_order_confirmed() is 'Writes the OrderConfirmed outbox row in the same transaction as the confirmation, so neither exists without the other.';
