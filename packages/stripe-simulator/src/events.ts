import Stripe from 'stripe';
import { newId } from './ids.ts';

/** The API version the official SDK pins; events carry it like Stripe's do for the endpoint. */
export const API_VERSION: string = Stripe.API_VERSION;

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface RequestInfo {
  id: string | null;
  idempotencyKey: string | null;
}

/** Events raised outside any API request (a refund failing later), as Stripe sends them. */
export const NO_REQUEST: RequestInfo = { id: null, idempotencyKey: null };

/**
 * An event envelope holding a deep copy of the object as it was when the event happened; `*.updated`
 * events carry the changed fields' old values in `previous_attributes`, as Stripe's do.
 */
export function buildEvent(
  type: string, object: object, input: { request?: RequestInfo; created: number; previousAttributes?: Record<string, unknown> },
): StripeEvent {
  const request = input.request ?? NO_REQUEST;
  return {
    id: newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: input.created,
    data: {
      object: structuredClone(object) as Record<string, unknown>,
      ...(input.previousAttributes ? { previous_attributes: structuredClone(input.previousAttributes) } : {}),
    },
    livemode: false,
    pending_webhooks: 1,
    request: { id: request.id, idempotency_key: request.idempotencyKey },
    type,
  };
}
