-- Up Migration
create schema checkout;
comment on schema checkout is 'checkout-service: orders, their legal status transitions, audit trail and the outbox Debezium reads.';

create table checkout.products (
  sku         text primary key check (sku ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'),
  name        text not null check (length(name) between 1 and 200),
  unit_amount bigint not null check (unit_amount > 0),
  currency    text not null default 'nzd' check (currency ~ '^[a-z]{3}$'),
  active      boolean not null default true,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
comment on table checkout.products is 'The price list: the only source of prices. Requests carry SKUs and quantities, never amounts.';
comment on column checkout.products.unit_amount is 'Price of one unit in the currency''s minor unit (cents).';
comment on column checkout.products.active is 'Inactive products cannot be ordered; existing orders keep the name and price they were sold at.';

-- Down Migration
drop schema checkout cascade;
