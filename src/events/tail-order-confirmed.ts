// npm run events [-- --from-beginning]
//
// Tails the OrderConfirmed events that Debezium streams from checkout.outbox to Kafka and prints
// each as one JSON line on stdout. It is also the reference for consumers (the SAP integration
// layer): read the key/headers/value as below, de-duplicate on the `id` header, and commit the
// offset only after the event has been processed.
//
// Environment:
//   KAFKA_BROKERS           comma-separated host:port list (default localhost:9092)
//   ORDER_CONFIRMED_TOPIC   topic (default checkout.order-confirmed)
//   EVENTS_GROUP_ID         consumer group (default checkout-events-tail); its committed offsets
//                           make a restarted tail continue where it stopped
// Flags:
//   --from-beginning        replay the whole topic instead of continuing from the group's offsets
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import type { Consumer, EachMessagePayload } from 'kafkajs';
import { decodeOrderConfirmed, SeenIds } from './order-confirmed-message.ts';
import { orderConfirmedErrors } from './event-schemas.ts';

// kafkajs 2.2.4 arms a timer with a negative delay (RequestQueue.scheduleCheckPendingRequests),
// which Node 24 reports as a TimeoutNegativeWarning; harmless, so keep it off the terminal.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(warning);
});

const { values: flags } = parseArgs({ options: { 'from-beginning': { type: 'boolean', default: false } } });
const brokers = (process.env.KAFKA_BROKERS || 'localhost:9092').split(',').map((b) => b.trim()).filter(Boolean);
const topic = process.env.ORDER_CONFIRMED_TOPIC || 'checkout.order-confirmed';
const groupId = process.env.EVENTS_GROUP_ID || 'checkout-events-tail';

const kafka = new kafkajs.Kafka({ clientId: 'checkout-events-tail', brokers, logLevel: kafkajs.logLevel.WARN });
const consumer: Consumer = kafka.consumer({ groupId });
const seen = new SeenIds();

async function handle({ topic: from, partition, message }: EachMessagePayload): Promise<void> {
  const event = decodeOrderConfirmed(partition, message);
  // At-least-once delivery: a Kafka Connect crash makes Debezium re-send the events after its last
  // saved position, with the same `id` header. Process each id once.
  if (event.id !== null && !seen.firstTime(event.id)) {
    console.error(`duplicate event ${event.id} (partition ${partition}, offset ${message.offset}) skipped`);
  } else {
    // Check the value against the contract's JSON Schema; a consumer would park a non-conforming
    // event (dead-letter topic or table) for a human instead of acting on it.
    const schemaErrors = event.error ? [event.error] : orderConfirmedErrors(event.value);
    if (schemaErrors.length > 0) console.error(`event ${event.id} does not match the OrderConfirmed schema: ${schemaErrors.join('; ')}`);
    console.log(JSON.stringify(schemaErrors.length > 0 ? { ...event, schemaErrors } : event));
  }
  // Commit only now that the event is handled: a crash before this line re-delivers it (which
  // the de-duplication absorbs); committing first could lose it. The committed offset is the
  // next one to read, hence + 1.
  await consumer.commitOffsets([{ topic: from, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
}

/** --from-beginning: once partitions are assigned, seek each one to its earliest offset. */
function replayFromBeginningOnJoin(): void {
  const admin = kafka.admin();
  const remove = consumer.on(consumer.events.GROUP_JOIN, async () => {
    remove();
    await admin.connect();
    try {
      for (const { partition, low } of await admin.fetchTopicOffsets(topic)) {
        consumer.seek({ topic, partition, offset: low });
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
    console.error(`${signal}: leaving the consumer group…`);
    await consumer.disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: flags['from-beginning'] });
  if (flags['from-beginning']) replayFromBeginningOnJoin();
  console.error(`tailing ${topic} on ${brokers.join(',')} as group ${groupId} (Ctrl-C to stop)`);
  await consumer.run({ autoCommit: false, eachMessage: handle });
}

main().catch(async (err: unknown) => {
  console.error(`events: ${err instanceof Error ? err.message : String(err)}`);
  await consumer.disconnect().catch(() => {});
  process.exit(1);
});
