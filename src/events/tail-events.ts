// npm run events [-- --from-beginning]
//
// Tails the OrderConfirmed and OrderRefunded events that Debezium streams from checkout.outbox to
// Kafka and prints each as one JSON line on stdout. It is also the reference for consumers (the SAP
// integration layer): read the key/headers/value as below, de-duplicate on the `id` header, hold an
// OrderRefunded until the OrderConfirmed it names has been processed, and commit an offset only after
// every event before it has been processed.
//
// Environment:
//   KAFKA_BROKERS           comma-separated host:port list (default localhost:9092)
//   ORDER_CONFIRMED_TOPIC   topic of OrderConfirmed (default checkout.order-confirmed)
//   ORDER_REFUNDED_TOPIC    topic of OrderRefunded (default checkout.order-refunded)
//   EVENTS_GROUP_ID         consumer group (default checkout-events-tail); its committed offsets
//                           make a restarted tail continue where it stopped
// Flags:
//   --from-beginning        replay both topics instead of continuing from the group's offsets
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { decodeEvent, RefundsAfterConfirmations, SeenIds, type EventMessage } from './event-message.ts';
import { eventSchemaErrors } from './event-schemas.ts';

// kafkajs 2.2.4 arms a timer with a negative delay (RequestQueue.scheduleCheckPendingRequests),
// which Node 24 reports as a TimeoutNegativeWarning; harmless, so keep it off the terminal.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(warning);
});

const { values: flags } = parseArgs({ options: { 'from-beginning': { type: 'boolean', default: false } } });
const brokers = (process.env.KAFKA_BROKERS || 'localhost:9092').split(',').map((b) => b.trim()).filter(Boolean);
const topics = [
  process.env.ORDER_CONFIRMED_TOPIC || 'checkout.order-confirmed',
  process.env.ORDER_REFUNDED_TOPIC || 'checkout.order-refunded',
];
const groupId = process.env.EVENTS_GROUP_ID || 'checkout-events-tail';

const kafka = new kafkajs.Kafka({ clientId: 'checkout-events-tail', brokers, logLevel: kafkajs.logLevel.WARN });
const consumer: Consumer = kafka.consumer({ groupId });
const seen = new SeenIds();

type Received = EventMessage & { topic: string };
const ordering = new RefundsAfterConfirmations<Received>();

function print(event: Received): void {
  // Check the value against the contract's JSON Schema; a consumer would park a non-conforming
  // event (dead-letter topic or table) for a human instead of acting on it.
  const schemaErrors = event.error ? [event.error] : eventSchemaErrors(event.type, event.value);
  if (schemaErrors.length > 0) console.error(`event ${event.id} does not match the ${event.type} schema: ${schemaErrors.join('; ')}`);
  console.log(JSON.stringify(schemaErrors.length > 0 ? { ...event, schemaErrors } : event));
}

/**
 * The offset to commit for a partition: the next one to read, unless an event of it is still held
 * (an OrderRefunded waiting for its OrderConfirmed), then that event's, so a restart reads it again.
 */
function commitOffset(topic: string, partition: number, next: bigint): string {
  const held = ordering.waiting().filter((e) => e.topic === topic && e.partition === partition).map((e) => BigInt(e.offset));
  return (held.length > 0 ? held.reduce((a, b) => (a < b ? a : b)) : next).toString();
}

async function handle({ topic, partition, message }: EachMessagePayload): Promise<void> {
  const event: Received = { ...decodeEvent(partition, message), topic };
  // At-least-once delivery: a Kafka Connect crash (or npm run cdc:redeliver) sends events again,
  // with the same `id` header. Process each id once.
  if (event.id !== null && !seen.firstTime(event.id)) {
    console.error(`duplicate event ${event.id} (${topic} partition ${partition}, offset ${message.offset}) skipped`);
  } else {
    const ready = ordering.accept(event);
    if (ready.length === 0) console.error(`${event.type} ${event.id} waits for OrderConfirmed ${(event.value as { confirmedEventId?: string }).confirmedEventId}`);
    for (const e of ready) print(e);
  }
  // Commit only what is handled: a crash before this line re-delivers it (which the
  // de-duplication absorbs); committing first could lose it.
  await consumer.commitOffsets([{ topic, partition, offset: commitOffset(topic, partition, BigInt(message.offset) + 1n) }]);
}

/** --from-beginning: once partitions are assigned, seek each one to its earliest offset. */
function replayFromBeginningOnJoin(): void {
  const admin = kafka.admin();
  const remove = consumer.on(consumer.events.GROUP_JOIN, async () => {
    remove();
    await admin.connect();
    try {
      for (const topic of topics) {
        for (const { partition, low } of await admin.fetchTopicOffsets(topic)) consumer.seek({ topic, partition, offset: low });
      }
    } finally {
      await admin.disconnect();
    }
  });
}

async function main(): Promise<void> {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const e of ordering.waiting()) console.error(`still waiting for its OrderConfirmed: ${e.type} ${e.id} (read again at the next start)`);
    console.error(`${signal}: leaving the consumer group…`);
    await consumer.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: flags['from-beginning'] });
  if (flags['from-beginning']) replayFromBeginningOnJoin();
  console.error(`tailing ${topics.join(' and ')} on ${brokers.join(',')} as group ${groupId} (Ctrl-C to stop)`);
  await consumer.run({ autoCommit: false, eachMessage: handle });
}

main().catch(async (err: unknown) => {
  console.error(`events: ${err instanceof Error ? err.message : String(err)}`);
  await consumer.disconnect().catch(() => {});
  process.exit(1);
});
