-- Up Migration
-- Roles are cluster-wide, so they may exist already (another database of the same cluster).
-- They are created LOGIN without a password: nobody can sign in with them until a deployment sets
-- one (ALTER ROLE … PASSWORD) or grants them to its own login role; trust/peer setups can use them.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'checkout_app') then
    create role checkout_app login;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'checkout_readonly') then
    create role checkout_readonly login;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'checkout_cdc') then
    create role checkout_cdc login replication;
  end if;
  execute format('grant connect on database %I to checkout_app, checkout_readonly, checkout_cdc', current_database());
end;
$$;
comment on role checkout_app is 'checkout-service at run time: executes the checkout.* API functions, no table privileges.';
comment on role checkout_readonly is 'DBAs and support: reads every table and view of schema checkout.';
comment on role checkout_cdc is 'Debezium: logical replication of publication checkout_outbox.';

-- Functions are executable by PUBLIC by default; here only the roles named below may call them.
-- (A per-schema ALTER DEFAULT PRIVILEGES cannot take that away, so every later migration revokes
-- PUBLIC's EXECUTE on the functions it creates: migrations/CONVENTIONS.md.)
revoke execute on all functions in schema checkout from public;

grant usage on schema checkout to checkout_app, checkout_readonly, checkout_cdc;
grant execute on function
  checkout.create_order(text, text, text, jsonb, interval),
  checkout.attach_payment_intent(uuid, text),
  checkout.release_checkout_lease(uuid),
  checkout.order_json(uuid),
  checkout.confirm_payment(uuid, text, bigint, text, text, text),
  checkout.cancel_order(uuid, text, text, text),
  checkout.expire_order(uuid, text),
  checkout.refund_order(uuid, bigint, text, text, text),
  checkout.apply_stripe_event(text, text, jsonb, text)
  to checkout_app;
-- /readyz compares the applied migrations with the ones the service ships.
grant select on public.pgmigrations to checkout_app, checkout_readonly;

grant select on all tables in schema checkout to checkout_readonly;
alter default privileges in schema checkout grant select on tables to checkout_readonly;
grant execute on function checkout.order_json(uuid) to checkout_readonly;

grant select on checkout.outbox to checkout_cdc;

-- Down Migration
revoke select on checkout.outbox from checkout_cdc;
alter default privileges in schema checkout revoke select on tables from checkout_readonly;
revoke select on all tables in schema checkout from checkout_readonly;
revoke select on public.pgmigrations from checkout_app, checkout_readonly;
revoke execute on all functions in schema checkout from checkout_app, checkout_readonly;
grant execute on all functions in schema checkout to public;
revoke usage on schema checkout from checkout_app, checkout_readonly, checkout_cdc;
do $$
declare
  r text;
begin
  execute format('revoke connect on database %I from checkout_app, checkout_readonly, checkout_cdc', current_database());
  foreach r in array array['checkout_app', 'checkout_readonly', 'checkout_cdc'] loop
    begin
      execute format('drop role %I', r);
    exception when dependent_objects_still_exist then
      -- Still used by another database of this cluster: that database's own down removes it.
      raise notice 'role % kept: other databases still grant it privileges', r;
    end;
  end loop;
end;
$$;
