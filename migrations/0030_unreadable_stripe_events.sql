-- Up Migration
-- A Stripe event whose signature verifies but whose content the service cannot read (not JSON, no
-- data.object, non-integer amounts, NUL bytes, a 10 KB id, nesting 5000 deep…) is recorded here and
-- answered 200: Stripe retries any non-2xx for three days, and retrying cannot fix the content
-- (https://docs.stripe.com/webhooks#retries). The HTTP edge decides what is unreadable
-- (src/http/stripe-event-schema.ts) and passes only the parts that passed their own checks.
create function checkout.record_unreadable_stripe_event(
  p_event_id text, p_type text, p_payment_intent_id text, p_order_id uuid, p_reason text, p_body bytea
) returns jsonb
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
declare
  v_sha256 text := encode(sha256(coalesce(p_body, ''::bytea)), 'hex');
  -- The event id when there is a sane one, else a digest of the exact bytes: either way a
  -- redelivery finds the same ledger row and is a duplicate. 255 keeps the key far below the
  -- btree entry limit.
  v_id     text := case when char_length(p_event_id) between 1 and 255 then p_event_id else 'sha256:' || v_sha256 end;
  v_order  uuid := (select id from checkout.orders where id = p_order_id);
  v_detail jsonb := jsonb_build_object(
    'reason', left(coalesce(p_reason, 'unreadable'), 500),
    'bodyBytes', octet_length(p_body),
    'bodySha256', v_sha256,
    -- escape encoding turns NUL and non-ASCII bytes into \ooo, so any bytes make valid text.
    'excerpt', encode(substring(coalesce(p_body, ''::bytea) from 1 for 200), 'escape'));
begin
  insert into checkout.stripe_events (id, type, outcome, source, order_id, payment_intent_id, detail)
  values (v_id, coalesce(left(p_type, 128), 'unreadable'), 'anomaly', 'stripe_webhook', v_order,
          left(p_payment_intent_id, 255), v_detail)
  on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'duplicate',
      'orderId', (select order_id from checkout.stripe_events where id = v_id));
  end if;
  insert into checkout.payment_anomalies (kind, order_id, payment_intent_id, stripe_event_id, detail)
  values ('unreadable_event', v_order, left(p_payment_intent_id, 255), v_id, v_detail);
  return jsonb_build_object('outcome', 'anomaly', 'orderId', v_order, 'anomaly', 'unreadable_event');
end;
$$;
comment on function checkout.record_unreadable_stripe_event(text, text, text, uuid, text, bytea) is
  'A verified Stripe event that cannot be read: one stripe_events row (outcome anomaly, id = the event id or sha256:<hex of the body>) and one payment_anomalies row of kind unreadable_event with a bounded detail (reason, size, digest, 200-byte excerpt). The order is linked when metadata.order_id names one. Returns outcome anomaly, or duplicate for a redelivery.';

revoke execute on function checkout.record_unreadable_stripe_event(text, text, text, uuid, text, bytea) from public;
grant execute on function checkout.record_unreadable_stripe_event(text, text, text, uuid, text, bytea) to checkout_app;

-- Down Migration
drop function checkout.record_unreadable_stripe_event(text, text, text, uuid, text, bytea);
