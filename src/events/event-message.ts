// How a consumer reads an event message (CONTRACT.md, "Kafka: OrderConfirmed" and "OrderRefunded"):
// key = order id, header `id` = event id, header `type` = the event type, value = the JSON payload.
import type { IHeaders, KafkaMessage } from 'kafkajs';

export interface EventMessage {
  partition: number;
  offset: string;
  /** The order id (also payload.orderId). */
  key: string | null;
  /** The event id (also payload.eventId): the de-duplication key. */
  id: string | null;
  type: string | null;
  /** The parsed JSON payload, or null when the bytes are not JSON (see `error`). */
  value: unknown;
  error?: string;
}

/** Kafka header values arrive as bytes (or a list when a header repeats); ours are plain strings. */
export function headerString(headers: IHeaders | undefined, name: string): string | null {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  if (first === undefined) return null;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

export function decodeEvent(partition: number, message: KafkaMessage): EventMessage {
  const decoded: EventMessage = {
    partition,
    offset: message.offset,
    key: message.key ? message.key.toString('utf8') : null,
    id: headerString(message.headers, 'id'),
    type: headerString(message.headers, 'type'),
    value: null,
  };
  const text = message.value ? message.value.toString('utf8') : '';
  try {
    decoded.value = JSON.parse(text);
  } catch (err) {
    decoded.value = text;
    decoded.error = `value is not JSON: ${(err as Error).message}`;
  }
  return decoded;
}

/**
 * Remembers the last `capacity` event ids. Delivery is at-least-once: after a crash of Kafka
 * Connect, Debezium resumes from its last saved WAL position and re-sends what came after it, so
 * the same event (same `id` header) can arrive twice. A consumer with side effects must keep the
 * ids it has processed in durable storage, in the same transaction as the effect (for example a
 * table with the event id as primary key); an in-memory window is enough for a terminal tail.
 */
export class SeenIds {
  private readonly ids = new Set<string>();
  private readonly capacity: number;

  constructor(capacity = 100_000) {
    this.capacity = capacity;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** True the first time an id is seen, false for a duplicate. */
  firstTime(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }
}

/** What `RefundsAfterConfirmations.accept` needs of an event. */
export interface OrderEvent {
  id: string | null;
  type: string | null;
  value: unknown;
}

/**
 * OrderConfirmed and OrderRefunded travel on two topics, so an OrderRefunded can arrive before the
 * OrderConfirmed it names (CONTRACT.md "Kafka: OrderRefunded"): it is held until that one has been
 * processed. Here the confirmations are remembered in memory for the life of the process; a
 * consumer with side effects keeps them in durable storage (the ids it has processed) instead.
 */
export class RefundsAfterConfirmations<E extends OrderEvent> {
  private readonly confirmed = new SeenIds();
  private readonly held = new Map<string, E[]>();

  /** The events to process now, in order: this one (unless held) and the refunds it releases. */
  accept(event: E): E[] {
    if (event.type === 'OrderRefunded') {
      const confirmedId = (event.value as { confirmedEventId?: unknown } | null)?.confirmedEventId;
      if (typeof confirmedId === 'string' && !this.confirmed.has(confirmedId)) {
        this.held.set(confirmedId, [...(this.held.get(confirmedId) ?? []), event]);
        return [];
      }
      return [event];
    }
    if (event.type === 'OrderConfirmed' && event.id !== null) {
      this.confirmed.firstTime(event.id);
      const released = this.held.get(event.id) ?? [];
      this.held.delete(event.id);
      return [event, ...released];
    }
    return [event];
  }

  /** Refunds still waiting for their OrderConfirmed. */
  waiting(): E[] {
    return [...this.held.values()].flat();
  }
}
