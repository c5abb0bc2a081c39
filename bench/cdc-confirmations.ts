// The CDC leg's instruments: pending orders made in bulk, confirmations committed at a set rate
// through the SQL the webhook calls, and a Kafka consumer that notes when each OrderConfirmed
// arrives. Times are this process's clock (performance.timeOrigin + now()), so commit and arrival
// compare without clock skew.
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import pg from 'pg';

export const now = () => performance.timeOrigin + performance.now();

export type PendingOrder = { id: string; pi: string };

/**
 * `count` PENDING_PAYMENT orders with a PaymentIntent, inserted in one statement as the owner
 * (create_order would take minutes for tens of thousands); the triggers still check each row.
 */
export async function seedPendingOrders(ownerUrl: string, count: number): Promise<PendingOrder[]> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rows } = await client.query<PendingOrder>(`
      with o as (
        insert into checkout.orders (customer_id, currency, amount_total, idempotency_key, request_fingerprint, payment_intent_id)
        select 'bench-cdc', 'nzd', 1198, 'cdc-' || gen_random_uuid(), 'bench', 'pi_cdc' || replace(gen_random_uuid()::text, '-', '')
          from generate_series(1, $1::int)
        returning id, payment_intent_id),
      l as (
        insert into checkout.order_lines (order_id, sku, name, quantity, unit_amount, line_total)
        select o.id, p.sku, p.name, 2, p.unit_amount, 2 * p.unit_amount from o join checkout.products p on p.sku = 'MILK-2L')
      select id::text, payment_intent_id as pi from o`, [count]);
    return rows;
  } finally {
    await client.end();
  }
}

/** apply_stripe_event as POST /webhooks/stripe calls it, as checkout_app; commits are noted by order id. */
export function createConfirmer(serviceUrl: string, connections: number) {
  const pool = new pg.Pool({ connectionString: serviceUrl, max: connections });
  const committedAt = new Map<string, number>();
  const confirm = async (order: PendingOrder) => {
    const object = { id: order.pi, object: 'payment_intent', amount: 1198, amount_received: 1198, currency: 'nzd', status: 'succeeded', metadata: { order_id: order.id } };
    const { rows } = await pool.query<{ outcome: string }>(
      `select checkout.apply_stripe_event($1, 'payment_intent.succeeded', $2::jsonb, 'stripe_webhook')->>'outcome' as outcome`,
      [`evt_cdc${order.id.replaceAll('-', '')}`, JSON.stringify(object)],
    );
    if (rows[0]?.outcome !== 'applied') throw new Error(`confirmation of ${order.id}: ${rows[0]?.outcome}`);
    // The commit has been acknowledged: the earliest moment a client knows the order is paid.
    committedAt.set(order.id, now());
  };
  return {
    committedAt,
    /** Confirms `orders` at `rate` a second, open loop (a slow commit does not delay the next); what rate was reached. */
    async atRate(orders: PendingOrder[], rate: number, until: () => boolean = () => false): Promise<{ sent: number; perSecond: number }> {
      const started = now();
      const pending = new Set<Promise<void>>();
      let sent = 0;
      while (sent < orders.length && !until()) {
        const due = Math.min(orders.length, Math.floor(((now() - started) / 1000) * rate) + 1);
        for (; sent < due; sent++) {
          const p = confirm(orders[sent]!).finally(() => pending.delete(p));
          pending.add(p);
        }
        await sleep(5);
      }
      await Promise.all(pending);
      return { sent, perSecond: sent / ((now() - started) / 1000) };
    },
    /** As fast as `connections` connections go. */
    async all(orders: PendingOrder[]): Promise<void> {
      let next = 0;
      await Promise.all(Array.from({ length: connections }, async () => {
        while (next < orders.length) await confirm(orders[next++]!);
      }));
    },
    end: () => pool.end(),
  };
}

/** A consumer of OrderConfirmed from the topic's end (a group of its own); arrival time by order id (the key). */
export async function consumeConfirmations(brokers: string[], topic: string) {
  const kafka = new kafkajs.Kafka({ clientId: 'checkout-bench', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `checkout-bench-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 50 });
  const arrivedAt = new Map<string, number>();
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: false });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const at = now();
      for (const message of batch.messages) {
        const key = message.key?.toString();
        if (key && !arrivedAt.has(key)) arrivedAt.set(key, at);
      }
    },
  });
  await joined;
  return {
    arrivedAt,
    /** Until every one of `ids` has arrived; false after `timeoutMs`. */
    async waitFor(ids: string[], timeoutMs: number): Promise<boolean> {
      const deadline = now() + timeoutMs;
      while (ids.some((id) => !arrivedAt.has(id))) {
        if (now() > deadline) return false;
        await sleep(50);
      }
      return true;
    },
    close: () => consumer.disconnect(),
  };
}
