-- Up Migration
-- Stripe refuses a PaymentIntent below the currency's minimum (amount_too_small) or above its maximum
-- (amount_too_large): https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts. An order
-- outside them could never be paid, so create_order refuses it before it exists (0021).
create table checkout.currency_limits (
  currency       text primary key check (currency ~ '^[a-z]{3}$'),
  minimum_amount bigint not null check (minimum_amount > 0),
  maximum_amount bigint not null,
  check (maximum_amount >= minimum_amount)
);
comment on table checkout.currency_limits is
  'The smallest and largest amount Stripe charges per currency, in the minor unit (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). create_order refuses totals outside them (CK011, CK012). Every currency the catalog sells has a row (foreign key from products).';
comment on column checkout.currency_limits.minimum_amount is
  'Stripe''s minimum charge in the currency (e.g. 50 = NZD 0.50). Stripe also requires the equivalent of the minimum in the account''s settlement currency; with settlement in the presentment currency these are the same.';
comment on column checkout.currency_limits.maximum_amount is
  'Stripe''s maximum: the amount field takes at most eight digits (99999999) for most currencies.';

-- The values of Stripe's table for the currencies this service may sell in.
insert into checkout.currency_limits (currency, minimum_amount, maximum_amount) values
  ('nzd', 50, 99999999),
  ('aud', 50, 99999999),
  ('usd', 50, 99999999),
  ('cad', 50, 99999999),
  ('sgd', 50, 99999999),
  ('eur', 50, 99999999),
  ('chf', 50, 99999999),
  ('gbp', 30, 99999999),
  ('jpy', 50, 99999999);

-- A product in a currency without limits could be ordered but not checked against them.
alter table checkout.products
  add constraint products_currency_limits_fk foreign key (currency) references checkout.currency_limits (currency);

-- Down Migration
alter table checkout.products drop constraint products_currency_limits_fk;
drop table checkout.currency_limits;
