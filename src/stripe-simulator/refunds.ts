import { ok, paginate, type ApiContext, type ApiResult } from './api-context.ts';
import { StripeApiError, invalidParam, resourceMissing } from './errors.ts';
import { buildRefund, type Charge } from './objects.ts';
import { optionalEnum, optionalInteger, optionalMetadata, optionalString, rejectUnknown, type Params } from './params.ts';
import { newestFirst } from './store.ts';

function chargeToRefund(ctx: ApiContext, params: Params): Charge {
  const piId = optionalString(params, 'payment_intent');
  const chargeId = optionalString(params, 'charge');
  if (piId === undefined && chargeId === undefined) {
    throw invalidParam('charge', 'One of the following params should be provided for this request: payment_intent or charge.');
  }
  if (chargeId !== undefined) {
    const charge = ctx.store.charges.get(chargeId);
    if (!charge) throw resourceMissing('charge', chargeId, 'charge');
    if (piId !== undefined && charge.payment_intent !== piId) {
      throw invalidParam('payment_intent', `The charge ${chargeId} does not belong to the PaymentIntent ${piId}.`);
    }
    return charge;
  }
  const pi = ctx.store.paymentIntents.get(piId ?? '');
  if (!pi) throw resourceMissing('payment_intent', piId ?? '', 'payment_intent');
  const charge = pi.latest_charge ? ctx.store.charges.get(pi.latest_charge) : undefined;
  if (pi.status !== 'succeeded' || !charge || charge.status !== 'succeeded') {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'charge_not_refundable',
      param: 'payment_intent',
      message: `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
    });
  }
  return charge;
}

/** POST /v1/refunds: refunds synchronously (test cards do) and raises `charge.refunded`. */
export function createRefund(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, ['payment_intent', 'charge', 'amount', 'reason', 'metadata', 'expand', 'instructions_email']);
  const charge = chargeToRefund(ctx, params);
  const remaining = charge.amount_captured - charge.amount_refunded;
  if (charge.status !== 'succeeded') {
    throw invalidParam('charge', `Charge ${charge.id} has not succeeded and cannot be refunded.`, 'charge_not_refundable');
  }
  if (remaining <= 0) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error', code: 'charge_already_refunded', message: `Charge ${charge.id} has already been refunded.`,
    });
  }
  const amount = optionalInteger(params, 'amount') ?? remaining;
  if (amount < 1) throw invalidParam('amount', 'Invalid positive integer', 'parameter_invalid_integer');
  if (amount > remaining) {
    throw invalidParam('amount', `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`, 'amount_too_large');
  }
  const reason = optionalEnum(params, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']) ?? null;
  const refund = buildRefund(charge, amount, reason, optionalMetadata(params) ?? {});
  ctx.store.refunds.set(refund.id, refund);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount_captured;
  charge.refunds.data.unshift(refund);
  ctx.emit('charge.refunded', charge);
  ctx.emit('refund.created', refund);
  return ok(structuredClone(refund));
}

export function retrieveRefund(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['expand']);
  const refund = ctx.store.refunds.get(id);
  if (!refund) throw resourceMissing('refund', id);
  return ok(structuredClone(refund));
}

export function listRefunds(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, ['limit', 'starting_after', 'ending_before', 'expand', 'payment_intent', 'charge', 'created']);
  const pi = optionalString(params, 'payment_intent');
  const charge = optionalString(params, 'charge');
  const items = newestFirst(ctx.store.refunds.values())
    .filter((re) => (pi === undefined || re.payment_intent === pi) && (charge === undefined || re.charge === charge))
    .map((re) => structuredClone(re));
  return paginate(items, params, '/v1/refunds');
}

export function retrieveCharge(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['expand']);
  const charge = ctx.store.charges.get(id);
  if (!charge) throw resourceMissing('charge', id);
  return ok(structuredClone(charge));
}
