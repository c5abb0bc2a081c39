-- Up Migration
create function checkout.transition_counts()
  returns table (from_status checkout.order_status, to_status checkout.order_status, transitions bigint)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select h.from_status, h.to_status, count(*)
    from checkout.order_status_history h
   group by h.from_status, h.to_status
$$;
comment on function checkout.transition_counts() is 'Transitions so far by (from, to); from null counts created orders. Read by /metrics.';
revoke execute on function checkout.transition_counts() from public;
grant execute on function checkout.transition_counts() to checkout_app, checkout_readonly;

-- Down Migration
drop function checkout.transition_counts();
