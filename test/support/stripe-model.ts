// A small model of Stripe for the property test over interleavings (test/db/interleavings.test.ts):
// PaymentIntents, their charge and refunds, and the events Stripe would send, kept in a queue that the
// test delivers in any order, duplicated or not at all. It also answers the two calls the background
// jobs make (retrieve with latest_charge expanded, cancel), so the real jobs run against it.
import Stripe from 'stripe';

type Status = 'requires_payment_method' | 'succeeded' | 'canceled';

export interface ModelPaymentIntent {
  id: string;
  orderId: string;
  amount: number;
  status: Status;
  cancellationReason: string | null;
  lastError: { code: string; decline_code: string; message: string } | null;
  chargeId: string | null;
  /** What the charge has refunded now (Stripe lowers it when a refund fails). */
  amountRefunded: number;
  refunds: Array<{ id: string; amount: number; status: 'succeeded' | 'failed' }>;
}

export interface ModelEvent {
  id: string;
  type: string;
  object: Record<string, unknown>;
}

export class StripeModel {
  readonly paymentIntents = new Map<string, ModelPaymentIntent>();
  /** Events created and not yet delivered (delivered ones may stay, for a duplicate). */
  readonly queue: ModelEvent[] = [];
  private seq = 0;
  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  private next(kind: string): string {
    this.seq += 1;
    return `${kind}_${this.prefix}${this.seq}`;
  }

  createPaymentIntent(orderId: string, amount: number): ModelPaymentIntent {
    const pi: ModelPaymentIntent = {
      id: this.next('pi'), orderId, amount, status: 'requires_payment_method', cancellationReason: null,
      lastError: null, chargeId: null, amountRefunded: 0, refunds: [],
    };
    this.paymentIntents.set(pi.id, pi);
    return pi;
  }

  /** The PaymentIntent as Stripe shows it; `latest_charge` expanded when asked (reconciliation does). */
  paymentIntentObject(pi: ModelPaymentIntent, expandCharge = false): Record<string, unknown> {
    return {
      id: pi.id, object: 'payment_intent', amount: pi.amount, amount_received: pi.status === 'succeeded' ? pi.amount : 0,
      currency: 'nzd', status: pi.status, metadata: { order_id: pi.orderId }, cancellation_reason: pi.cancellationReason,
      last_payment_error: pi.lastError,
      latest_charge: pi.chargeId && expandCharge ? this.chargeObject(pi) : pi.chargeId,
    };
  }

  private chargeObject(pi: ModelPaymentIntent): Record<string, unknown> {
    return {
      id: pi.chargeId, object: 'charge', amount: pi.amount, amount_captured: pi.amount, amount_refunded: pi.amountRefunded,
      refunded: pi.amountRefunded >= pi.amount, currency: 'nzd', payment_intent: pi.id, metadata: {}, status: 'succeeded',
    };
  }

  private emit(type: string, object: Record<string, unknown>): void {
    this.queue.push({ id: this.next('evt'), type, object });
  }

  pay(pi: ModelPaymentIntent): void {
    if (pi.status !== 'requires_payment_method') return;
    pi.status = 'succeeded';
    pi.chargeId = this.next('ch');
    pi.lastError = null;
    this.emit('payment_intent.succeeded', this.paymentIntentObject(pi));
  }

  decline(pi: ModelPaymentIntent): void {
    if (pi.status !== 'requires_payment_method') return;
    pi.lastError = { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' };
    this.emit('payment_intent.payment_failed', this.paymentIntentObject(pi));
  }

  cancel(pi: ModelPaymentIntent, reason: string): boolean {
    if (pi.status !== 'requires_payment_method') return false;
    pi.status = 'canceled';
    pi.cancellationReason = reason;
    this.emit('payment_intent.canceled', this.paymentIntentObject(pi));
    return true;
  }

  refund(pi: ModelPaymentIntent, amount: number): void {
    const refundable = pi.amount - pi.amountRefunded;
    if (pi.status !== 'succeeded' || refundable <= 0) return;
    const refund = { id: this.next('re'), amount: Math.min(amount, refundable), status: 'succeeded' as const };
    pi.refunds.push(refund);
    pi.amountRefunded += refund.amount;
    this.emit('charge.refunded', this.chargeObject(pi));
  }

  /** The last refund that went through fails after all (e.g. the card was closed). */
  failRefund(pi: ModelPaymentIntent): void {
    const refund = pi.refunds.findLast((r) => r.status === 'succeeded');
    if (!refund) return;
    (refund as { status: string }).status = 'failed';
    pi.amountRefunded -= refund.amount;
    this.emit('charge.refund.updated', {
      id: refund.id, object: 'refund', amount: refund.amount, currency: 'nzd', status: 'failed',
      failure_reason: 'expired_or_canceled_card', charge: pi.chargeId, payment_intent: pi.id, metadata: {},
    });
  }

  /** The PaymentIntent calls of the jobs (src/jobs/job-deps.ts), answered as Stripe would. */
  readonly client = {
    paymentIntents: {
      retrieve: async (id: string, params?: { expand?: string[] }) =>
        this.paymentIntentObject(this.find(id), params?.expand?.includes('latest_charge') ?? false) as unknown as Stripe.Response<Stripe.PaymentIntent>,
      cancel: async (id: string, params?: { cancellation_reason?: string }) => {
        const pi = this.find(id);
        if (!this.cancel(pi, params?.cancellation_reason ?? 'requested_by_customer')) {
          // https://docs.stripe.com/api/payment_intents/cancel: only while it can still be paid.
          throw new Stripe.errors.StripeInvalidRequestError({
            type: 'invalid_request_error', code: 'payment_intent_unexpected_state', statusCode: 400,
            message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}.`,
          });
        }
        return this.paymentIntentObject(pi) as unknown as Stripe.Response<Stripe.PaymentIntent>;
      },
    },
  } as unknown as Pick<Stripe, 'paymentIntents'>;

  private find(id: string): ModelPaymentIntent {
    const pi = this.paymentIntents.get(id);
    if (!pi) throw new Stripe.errors.StripeInvalidRequestError({ type: 'invalid_request_error', code: 'resource_missing', statusCode: 404, message: `No such payment_intent: '${id}'` });
    return pi;
  }
}
