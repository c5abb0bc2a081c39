/**
 * The advisory lock both jobs take: they work on the same pending orders and PaymentIntents, so
 * across instances only one of them runs at a time (else reconciliation could record, as CANCELLED,
 * a PaymentIntent the expiry job of another instance has just cancelled and is about to EXPIRE).
 */
export const pendingOrdersLock = 'pending-orders';
