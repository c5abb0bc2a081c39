-- Up Migration
-- Columns as Debezium's Outbox Event Router expects them by default
-- (https://debezium.io/documentation/reference/transformations/outbox-event-router.html).
create table checkout.outbox (
  id            uuid primary key,
  aggregatetype text not null,
  aggregateid   text not null,
  type          text not null,
  payload       jsonb not null,
  created_at    timestamptz not null default now()
);
comment on table checkout.outbox is 'Events for Kafka, streamed by Debezium from the WAL. Rows are written only by tg_orders__30_outbox_order_confirmed, in the transaction that confirms the order.';
comment on column checkout.outbox.id is 'The event id: Kafka header "id", payload.eventId; consumers de-duplicate on it.';
comment on column checkout.outbox.aggregateid is 'The order id: the Kafka message key.';
create index outbox_aggregateid_idx on checkout.outbox (aggregateid);

create function checkout.order_lines_json(p_order_id uuid) returns jsonb
  language sql stable
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'sku', l.sku, 'name', l.name, 'quantity', l.quantity,
           'unitAmount', l.unit_amount, 'lineTotal', l.line_total) order by l.sku), '[]'::jsonb)
    from checkout.order_lines l
   where l.order_id = p_order_id
$$;
comment on function checkout.order_lines_json(uuid) is 'The lines of an order as the API and the OrderConfirmed event show them.';

create function checkout.order_confirmed_payload(p_order_id uuid, p_event_id uuid, p_occurred_at timestamptz)
  returns jsonb
  language sql stable
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select jsonb_build_object(
    'eventId', p_event_id,
    'eventType', 'OrderConfirmed',
    'schemaVersion', 1,
    'occurredAt', to_char(p_occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'orderId', o.id,
    'customerId', o.customer_id,
    'currency', o.currency,
    'amountTotal', o.amount_total,
    'lines', checkout.order_lines_json(o.id),
    'payment', jsonb_build_object(
      'provider', 'stripe',
      'paymentIntentId', o.payment_intent_id,
      'amountReceived', o.amount_received))
  from checkout.orders o
  where o.id = p_order_id
$$;
comment on function checkout.order_confirmed_payload(uuid, uuid, timestamptz) is 'The OrderConfirmed event of CONTRACT.md (schema: schemas/order-confirmed.v1.schema.json).';

create function checkout.tg_orders__30_outbox_order_confirmed() returns trigger
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

create trigger tg_orders__30_outbox_order_confirmed after update of status on checkout.orders
  for each row when (new.status = 'PAYMENT_CONFIRMED' and old.status is distinct from new.status)
  execute function checkout.tg_orders__30_outbox_order_confirmed();
alter table checkout.orders enable always trigger tg_orders__30_outbox_order_confirmed;

-- Only the outbox is published, and only inserts: Debezium never sees orders or customer rows.
create publication checkout_outbox for table checkout.outbox with (publish = 'insert');
comment on publication checkout_outbox is 'Read by the Debezium connector (debezium/), slot checkout_outbox.';

-- Down Migration
drop publication checkout_outbox;
drop trigger tg_orders__30_outbox_order_confirmed on checkout.orders;
drop function checkout.tg_orders__30_outbox_order_confirmed();
drop function checkout.order_confirmed_payload(uuid, uuid, timestamptz);
drop function checkout.order_lines_json(uuid);
drop table checkout.outbox;
