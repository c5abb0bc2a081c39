import { ok, paginate, type ApiContext, type ApiResult } from './api-context.ts';
import { StripeApiError, invalidParam, resourceMissing } from './errors.ts';
import { newId } from './ids.ts';
import { buildRefund, type Charge, type Refund } from './objects.ts';
import { optionalEnum, optionalInteger, optionalMetadata, optionalString, rejectUnknown, type Params } from './params.ts';
import { newestFirst } from './store.ts';
import { findTestCard } from './test-cards.ts';

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

/**
 * POST /v1/refunds: refunds synchronously (test cards do) and raises `charge.refunded` with the
 * Charge (cumulative `amount_refunded`; `refunded` only once fully refunded) and `refund.created`.
 * A charge paid with pm_card_refundFail has its refunds fail right after they were answered.
 */
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
  const refund = buildRefund(charge, { amount, reason, metadata: optionalMetadata(params) ?? {}, created: ctx.now() });
  ctx.store.refunds.set(refund.id, refund);
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount_captured;
  ctx.emit('charge.refunded', charge);
  ctx.emit('refund.created', refund);
  const failure = findTestCard(ctx.store.paymentMethodSources.get(charge.payment_method) ?? '')?.refundFailure;
  if (failure !== undefined) ctx.later((later) => failRefund(later, refund.id, failure));
  return ok(structuredClone(refund));
}

export const REFUND_FAILURE_REASONS: readonly string[] = [
  'lost_or_stolen_card', 'expired_or_canceled_card', 'charge_for_pending_refund_disputed', 'insufficient_funds', 'declined',
  'merchant_request', 'unknown',
];

/**
 * A refund that the card network returned: status `failed` with a failure_reason and a
 * failure_balance_transaction (the funds come back to the balance), announced by
 * `charge.refund.updated` with the Refund and its previous_attributes, as Stripe sends it
 * (docs.stripe.com/refunds#failed-refunds), plus `refund.updated` and `refund.failed`. The charge
 * no longer counts the amount as refunded.
 */
export function failRefund(ctx: ApiContext, refundId: string, failureReason = 'unknown'): Refund {
  const refund = ctx.store.refunds.get(refundId);
  if (!refund) throw resourceMissing('refund', refundId);
  if (!REFUND_FAILURE_REASONS.includes(failureReason)) {
    throw invalidParam('failure_reason', `Invalid failure_reason: must be one of ${REFUND_FAILURE_REASONS.join(', ')}`);
  }
  if (refund.status !== 'succeeded' && refund.status !== 'pending') {
    throw invalidParam('refund', `Refund ${refund.id} has status ${refund.status} and cannot fail.`);
  }
  const charge = ctx.store.charges.get(refund.charge);
  if (!charge) throw resourceMissing('charge', refund.charge);
  const previous = { failure_balance_transaction: null, failure_reason: null, status: refund.status };
  refund.status = 'failed';
  refund.failure_reason = failureReason;
  refund.failure_balance_transaction = newId('txn');
  charge.amount_refunded -= refund.amount;
  charge.refunded = charge.amount_refunded > 0 && charge.amount_refunded === charge.amount_captured;
  ctx.emit('charge.refund.updated', refund, previous);
  ctx.emit('refund.updated', refund, previous);
  ctx.emit('refund.failed', refund);
  return structuredClone(refund);
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
