-- Up Migration
-- Issue 13: GET /products, the catalog a frontend builds its basket from, read through an API
-- function like every other read (checkout_app has no table privileges). Keyset pagination on the
-- primary key keeps every answer bounded however large the price list grows.
create function checkout.list_products(p_after_sku text, p_limit integer)
  returns table (sku text, name text, unit_amount bigint, currency text, active boolean)
  language sql stable security definer
  set search_path = pg_catalog, checkout, pg_temp
as $$
  select p.sku, p.name, p.unit_amount, p.currency, p.active
    from checkout.products p
   where p_after_sku is null or p.sku > p_after_sku
   order by p.sku
   limit least(greatest(coalesce(p_limit, 100), 1), 1000)
$$;
comment on function checkout.list_products(text, integer) is
  'The price list as GET /products shows it, inactive products included (flagged, so a frontend can show them as unavailable): at most p_limit rows (1 to 1000, default 100) in SKU order, after p_after_sku when given (keyset pagination).';

revoke execute on function checkout.list_products(text, integer) from public;
grant execute on function checkout.list_products(text, integer) to checkout_app, checkout_readonly;

-- Down Migration
drop function checkout.list_products(text, integer);
