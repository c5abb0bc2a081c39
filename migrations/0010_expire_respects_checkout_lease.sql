-- Up Migration
-- An order without a PaymentIntent may still have its POST /checkout at Stripe (it holds the
-- checkout lease): expiring it then would strand the PaymentIntent being created. CK003 says so.
create or replace function checkout.expire_order(p_order_id uuid, p_reason text default 'payment not completed in time')
  returns text
  language plpgsql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
begin
  if (checkout.lock_order(p_order_id)).checkout_lease_until > now() then
    raise exception 'order % is being checked out right now', p_order_id using errcode = 'CK003';
  end if;
  return checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
end;
$$;
comment on function checkout.expire_order(uuid, text) is 'PENDING_PAYMENT -> EXPIRED. Call only after the PaymentIntent was cancelled at Stripe (DESIGN.md). Returns applied, or ignored when already EXPIRED; CK003 while a checkout request holds the order; CK001 otherwise.';

-- Down Migration
create or replace function checkout.expire_order(p_order_id uuid, p_reason text default 'payment not completed in time')
  returns text
  language sql volatile security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select checkout.close_order(p_order_id, 'EXPIRED', 'expiry_job', p_reason, null);
$$;
comment on function checkout.expire_order(uuid, text) is 'PENDING_PAYMENT -> EXPIRED. Call only after the PaymentIntent was cancelled at Stripe (DESIGN.md). Returns applied, or ignored when already EXPIRED; CK001 otherwise.';
