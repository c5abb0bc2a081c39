-- Up Migration
-- Issue 10.4: confirm_payment, cancel_order and refund_order are reached through apply_stripe_event
-- (a verified Stripe event), which checks the PaymentIntent, amount and currency and records the
-- event; the service has no business calling them directly. The API functions run as their owner
-- (SECURITY DEFINER), so revoking the app's EXECUTE does not stop them calling these.
revoke execute on function
  checkout.confirm_payment(uuid, text, bigint, text, text, text),
  checkout.cancel_order(uuid, text, text, text),
  checkout.refund_order(uuid, bigint, text, text, text)
  from checkout_app;

-- Down Migration
grant execute on function
  checkout.confirm_payment(uuid, text, bigint, text, text, text),
  checkout.cancel_order(uuid, text, text, text),
  checkout.refund_order(uuid, bigint, text, text, text)
  to checkout_app;
