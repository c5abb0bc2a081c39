-- Up Migration
create view checkout.order_timeline as
  select h.order_id, o.customer_id, h.id as seq, h.from_status, h.to_status, h.at, h.source, h.reason,
         h.stripe_event_id, h.db_user, h.txid
    from checkout.order_status_history h
    join checkout.orders o on o.id = h.order_id;
comment on view checkout.order_timeline is 'Every transition of every order: select * from checkout.order_timeline where order_id = … order by seq.';

create function checkout.pending_orders_older_than(p_age interval)
  returns table (order_id uuid, customer_id text, amount_total bigint, currency text,
                 payment_intent_id text, created_at timestamptz, age interval)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select o.id, o.customer_id, o.amount_total, o.currency, o.payment_intent_id, o.created_at, now() - o.created_at
    from checkout.orders o
   where o.status = 'PENDING_PAYMENT' and o.created_at < now() - p_age
   order by o.created_at
$$;
comment on function checkout.pending_orders_older_than(interval) is 'Orders still waiting for payment after p_age: candidates for expiry or reconciliation.';

create view checkout.stale_pending_orders as
  select * from checkout.pending_orders_older_than(
    coalesce(nullif(current_setting('checkout.stale_after', true), '')::interval, interval '30 minutes'));
comment on view checkout.stale_pending_orders is 'Pending orders older than the session setting checkout.stale_after (default 30 minutes): set checkout.stale_after = ''2 hours''.';

create view checkout.open_payment_anomalies as
  select a.*, e.type as stripe_event_type
    from checkout.payment_anomalies a
    left join checkout.stripe_events e on e.id = a.stripe_event_id
   where a.resolved_at is null;
comment on view checkout.open_payment_anomalies is 'Payments that were received or changed but not applied, waiting for a person.';

grant select on checkout.order_timeline, checkout.stale_pending_orders, checkout.open_payment_anomalies to checkout_readonly;
revoke execute on function checkout.pending_orders_older_than(interval) from public;
grant execute on function checkout.pending_orders_older_than(interval) to checkout_readonly, checkout_app;

-- Down Migration
drop view checkout.open_payment_anomalies;
drop view checkout.stale_pending_orders;
drop function checkout.pending_orders_older_than(interval);
drop view checkout.order_timeline;
