import { ok, paginate, type ApiContext, type ApiResult } from './api-context.ts';
import { checkAmount, parseCurrency } from './currencies.ts';
import { StripeApiError, invalidParam, missingParam, resourceMissing, unexpectedState } from './errors.ts';
import { buildPaymentIntent, type PaymentIntent } from './objects.ts';
import {
  mergeMetadata, optionalBoolean, optionalEnum, optionalHash, optionalInteger, optionalMetadata,
  optionalString, optionalStringArray, rejectUnknown, type Params,
} from './params.ts';
import { newestFirst, type Store } from './store.ts';
import { confirmPaymentIntent, CONFIRM_PARAMS, resolvePaymentMethod } from './confirm.ts';

const EXPANDABLE = ['latest_charge', 'payment_method'] as const;
const MODIFIABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly string[] = [...MODIFIABLE, 'requires_capture', 'processing'];

export function findPaymentIntent(store: Store, id: string, param = 'id'): PaymentIntent {
  const pi = store.paymentIntents.get(id);
  if (!pi) throw resourceMissing('payment_intent', id, param);
  return pi;
}

/** The response form of a PaymentIntent: a copy, with `expand[]` fields replaced by objects. */
export function presentPaymentIntent(store: Store, pi: PaymentIntent, params: Params): Record<string, unknown> {
  const out: Record<string, unknown> = { ...structuredClone(pi) };
  for (const field of optionalStringArray(params, 'expand') ?? []) {
    if (field === 'latest_charge') out.latest_charge = pi.latest_charge ? structuredClone(store.charges.get(pi.latest_charge)) ?? null : null;
    else if (field === 'payment_method') out.payment_method = pi.payment_method ? structuredClone(store.paymentMethods.get(pi.payment_method)) ?? null : null;
    else throw invalidParam('expand', `This property cannot be expanded (${field}). You may want to try expanding one of: ${EXPANDABLE.join(', ')}.`);
  }
  return out;
}

export function createPaymentIntent(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, [
    'amount', 'currency', 'metadata', 'automatic_payment_methods', 'payment_method_types', 'description',
    'receipt_email', 'capture_method', 'statement_descriptor_suffix', 'confirm', 'payment_method',
    'return_url', 'expand', 'off_session', 'error_on_requires_action', 'use_stripe_sdk',
  ]);
  const amount = optionalInteger(params, 'amount');
  if (amount === undefined) throw missingParam('amount');
  const currencyParam = optionalString(params, 'currency');
  if (!currencyParam) throw missingParam('currency');
  const currency = parseCurrency(currencyParam);
  checkAmount(amount, currency);
  const apm = optionalHash(params, 'automatic_payment_methods');
  if (apm) rejectUnknown(apm, ['enabled', 'allow_redirects'], 'automatic_payment_methods');
  const apmEnabled = apm ? optionalBoolean(apm, 'automatic_payment_methods[enabled]', apm.enabled) : undefined;
  const types = optionalStringArray(params, 'payment_method_types');
  if (apmEnabled && types) {
    throw invalidParam('payment_method_types', 'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.');
  }
  // Stripe's manual capture needs a capture endpoint this simulator does not have; refuse it loudly.
  const captureMethod = optionalEnum(params, 'capture_method', ['automatic', 'automatic_async']) ?? 'automatic_async';
  const confirm = optionalBoolean(params, 'confirm') ?? false;
  if (!confirm && params.payment_method === undefined && params.return_url !== undefined) {
    throw invalidParam('return_url', 'You can only pass return_url when confirm is true.');
  }
  const paymentMethod = optionalString(params, 'payment_method');
  // Resolve the PaymentMethod first so an unknown one fails before anything is created.
  const resolvedPm = paymentMethod !== undefined ? resolvePaymentMethod(ctx, paymentMethod) : undefined;
  const pi = buildPaymentIntent({
    amount,
    currency,
    metadata: optionalMetadata(params) ?? {},
    // Omitting both is what current API versions treat as automatic payment methods.
    automaticPaymentMethods: apmEnabled ?? types === undefined,
    paymentMethodTypes: types ?? ['card'],
    description: optionalString(params, 'description') ?? null,
    receiptEmail: optionalString(params, 'receipt_email') ?? null,
    captureMethod,
    statementDescriptorSuffix: optionalString(params, 'statement_descriptor_suffix', 22) ?? null,
    created: ctx.now(),
  });
  ctx.store.paymentIntents.set(pi.id, pi);
  ctx.emit('payment_intent.created', pi);
  if (resolvedPm) {
    pi.payment_method = resolvedPm.id;
    pi.status = 'requires_confirmation';
  }
  if (confirm) {
    const confirmParams: Params = {};
    for (const name of ['return_url', 'off_session', 'error_on_requires_action', 'use_stripe_sdk']) {
      if (params[name] !== undefined) confirmParams[name] = params[name];
    }
    confirmPaymentIntent(ctx, pi, confirmParams);
  }
  return ok(presentPaymentIntent(ctx.store, pi, params));
}

export function retrievePaymentIntent(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['expand', 'client_secret']);
  return ok(presentPaymentIntent(ctx.store, findPaymentIntent(ctx.store, id), params));
}

export function listPaymentIntents(ctx: ApiContext, params: Params): ApiResult {
  rejectUnknown(params, ['limit', 'starting_after', 'ending_before', 'expand', 'customer', 'created']);
  const items = newestFirst(ctx.store.paymentIntents.values()).map((pi) => structuredClone(pi));
  return paginate(items, params, '/v1/payment_intents');
}

export function updatePaymentIntent(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['amount', 'currency', 'metadata', 'description', 'receipt_email', 'payment_method', 'expand']);
  const pi = findPaymentIntent(ctx.store, id);
  const amount = optionalInteger(params, 'amount');
  const currencyParam = optionalString(params, 'currency');
  const paymentMethod = optionalString(params, 'payment_method');
  const changesPayment = amount !== undefined || currencyParam !== undefined || paymentMethod !== undefined;
  if (changesPayment && !MODIFIABLE.includes(pi.status)) throw unexpectedState(pi, 'update the amount, currency or payment method of');
  const currency = currencyParam !== undefined ? parseCurrency(currencyParam) : pi.currency;
  if (amount !== undefined) checkAmount(amount, currency);
  const metadata = optionalMetadata(params);
  const description = optionalString(params, 'description');
  const receiptEmail = optionalString(params, 'receipt_email');
  if (amount !== undefined) pi.amount = amount;
  pi.currency = currency;
  if (metadata !== undefined) pi.metadata = mergeMetadata(pi.metadata, metadata);
  if (description !== undefined) pi.description = description || null;
  if (receiptEmail !== undefined) pi.receipt_email = receiptEmail || null;
  if (paymentMethod !== undefined) {
    if (!ctx.store.paymentMethods.has(paymentMethod)) throw resourceMissing('PaymentMethod', paymentMethod, 'payment_method');
    pi.payment_method = paymentMethod;
    pi.status = 'requires_confirmation';
  }
  ctx.emit('payment_intent.updated', pi);
  return ok(presentPaymentIntent(ctx.store, pi, params));
}

export function confirmPaymentIntentRoute(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, CONFIRM_PARAMS);
  const pi = findPaymentIntent(ctx.store, id);
  confirmPaymentIntent(ctx, pi, params);
  return ok(presentPaymentIntent(ctx.store, pi, params));
}

export function cancelPaymentIntent(ctx: ApiContext, id: string, params: Params): ApiResult {
  rejectUnknown(params, ['cancellation_reason', 'expand']);
  const reason = optionalEnum(params, 'cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']);
  const pi = findPaymentIntent(ctx.store, id);
  if (!CANCELABLE.includes(pi.status)) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'payment_intent_unexpected_state',
      message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`,
      payment_intent: structuredClone(pi),
    });
  }
  pi.status = 'canceled';
  pi.canceled_at = ctx.now();
  pi.cancellation_reason = reason ?? null;
  pi.next_action = null;
  ctx.emit('payment_intent.canceled', pi);
  return ok(presentPaymentIntent(ctx.store, pi, params));
}
