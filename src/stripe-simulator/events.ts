import Stripe from 'stripe';
import { newId, nowSeconds } from './ids.ts';

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

/** An event envelope holding a deep copy of the object as it was when the event happened. */
export function buildEvent(type: string, object: object, request: RequestInfo = { id: null, idempotencyKey: null }): StripeEvent {
  return {
    id: newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: nowSeconds(),
    data: { object: structuredClone(object) as Record<string, unknown> },
    livemode: false,
    pending_webhooks: 1,
    request: { id: request.id, idempotency_key: request.idempotencyKey },
    type,
  };
}
