-- Up Migration
-- Issue 10.5: the transition trigger guards UPDATEs only, so an INSERT could create an order that is
-- already PAYMENT_CONFIRMED (or REFUNDED): no audit transition to it and no OrderConfirmed row. Every
-- order starts PENDING_PAYMENT with no payment progress; the legal transitions do the rest.
create function checkout.tg_orders__10_enforce_initial_state() returns trigger
  language plpgsql
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  if new.status is distinct from 'PENDING_PAYMENT' or new.amount_received is not null
     or new.amount_refunded is distinct from 0 then
    raise exception 'a new order must start PENDING_PAYMENT with nothing received or refunded (got %, received %, refunded %)',
      new.status, new.amount_received, new.amount_refunded
      using errcode = 'CK020',
            hint = 'Insert it PENDING_PAYMENT; it reaches other statuses through checkout.order_status_transitions.';
  end if;
  return new;
end;
$$;
comment on function checkout.tg_orders__10_enforce_initial_state() is 'Rejects an order inserted in any state but PENDING_PAYMENT with no amount received or refunded (SQLSTATE CK020), for every role.';
revoke execute on function checkout.tg_orders__10_enforce_initial_state() from public;

create trigger tg_orders__10_enforce_initial_state before insert on checkout.orders
  for each row execute function checkout.tg_orders__10_enforce_initial_state();
-- ALWAYS, like tg_orders__10_enforce_transition: session_replication_role = replica cannot skip it.
alter table checkout.orders enable always trigger tg_orders__10_enforce_initial_state;
comment on trigger tg_orders__10_enforce_initial_state on checkout.orders is 'Every order begins at PENDING_PAYMENT (CK020); see the function.';

-- Down Migration
drop trigger tg_orders__10_enforce_initial_state on checkout.orders;
drop function checkout.tg_orders__10_enforce_initial_state();
