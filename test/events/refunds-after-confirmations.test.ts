// The reference consumer's ordering rule (CONTRACT.md "Kafka: OrderRefunded"): an OrderRefunded that
// arrives before the OrderConfirmed it names is held until that one has been processed.
import { describe, expect, it } from '@jest/globals';
import { RefundsAfterConfirmations, type OrderEvent } from '../../src/events/event-message.ts';

const confirmed = (id: string): OrderEvent => ({ id, type: 'OrderConfirmed', value: { eventId: id } });
const refunded = (id: string, confirmedEventId: string): OrderEvent => ({ id, type: 'OrderRefunded', value: { eventId: id, confirmedEventId } });

describe('RefundsAfterConfirmations', () => {
  it('passes a refund whose confirmation was processed', () => {
    const ordering = new RefundsAfterConfirmations();
    expect(ordering.accept(confirmed('c1'))).toEqual([confirmed('c1')]);
    expect(ordering.accept(refunded('r1', 'c1'))).toEqual([refunded('r1', 'c1')]);
    expect(ordering.waiting()).toEqual([]);
  });

  it('holds refunds that arrive first and releases them, in arrival order, right after their confirmation', () => {
    const ordering = new RefundsAfterConfirmations();
    expect(ordering.accept(refunded('r1', 'c1'))).toEqual([]);
    expect(ordering.accept(refunded('r2', 'c1'))).toEqual([]);
    expect(ordering.accept(refunded('r3', 'c2'))).toEqual([]);
    expect(ordering.waiting().map((e) => e.id)).toEqual(['r1', 'r2', 'r3']);
    expect(ordering.accept(confirmed('c1'))).toEqual([confirmed('c1'), refunded('r1', 'c1'), refunded('r2', 'c1')]);
    expect(ordering.waiting().map((e) => e.id)).toEqual(['r3']);
  });

  it('passes other events and refunds it cannot read as they are', () => {
    const ordering = new RefundsAfterConfirmations();
    const other = { id: 'x', type: 'SomethingElse', value: {} };
    const unreadable = { id: 'y', type: 'OrderRefunded', value: 'not json' };
    expect(ordering.accept(other)).toEqual([other]);
    expect(ordering.accept(unreadable)).toEqual([unreadable]);
  });
});
