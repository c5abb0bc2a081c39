-- Up Migration
create function checkout.apply_stripe_event(
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

-- Down Migration
drop function checkout.apply_stripe_event(text, text, jsonb, text);
