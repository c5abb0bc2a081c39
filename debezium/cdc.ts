// Local CDC without Docker: Kafka (KRaft) + Kafka Connect + Debezium as plain Java processes.
//   npm run cdc:up       fetch the jars (first run), start both, wait until the connector streams
//   npm run cdc:down     stop both by PID (SIGTERM, then SIGKILL after a timeout)
//   npm run cdc:redeliver -- --since <ISO timestamp> [--until <ISO timestamp>]
//                        send outbox rows created in that window again, with their original ids
//   node debezium/cdc.ts fetch    only fetch the jars (up and the tests fetch them when missing)
//   node debezium/cdc.ts status
// Environment: DATABASE_OWNER_URL or DATABASE_URL (required for up, unless npm start's embedded
// PostgreSQL is there), CDC_DATABASE_USER (default checkout_cdc),
// CDC_DATABASE_PASSWORD, ORDER_CONFIRMED_TOPIC, CDC_KAFKA_PORT (9092), CDC_CONTROLLER_PORT (9093),
// CDC_CONNECT_PORT (8083), CDC_STATE_DIR (.cdc), CDC_START_TIMEOUT_MS (180000).
import { parseArgs } from 'node:util';
import { ensureJars } from './jars.ts';
import { redeliverOutbox } from './postgres.ts';
import { loadSettings } from './settings.ts';
import { down, status, up } from './stack.ts';

const log = (line: string): void => console.log(`[cdc] ${line}`);

// kafkajs 2.2.4 (used to create the topic) arms a timer with a negative delay, which Node 24
// reports as a TimeoutNegativeWarning; harmless, so keep it off the terminal.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(warning);
});

async function main(command: string | undefined): Promise<void> {
  const settings = loadSettings();
  switch (command) {
    case 'up': {
      const t = await up(settings, log);
      const secs = (ms: number): string => (ms / 1000).toFixed(1);
      log(
        `Ready in ${secs(t.totalMs)} s (jars ${t.fetched ? `fetched in ${secs(t.fetchMs)} s` : 'cached'}, ` +
          `Kafka ${secs(t.kafkaMs)} s, Connect + connector ${secs(t.connectMs)} s).`,
      );
      log(`Kafka: KAFKA_BROKERS=127.0.0.1:${settings.kafkaPort}  topics: ${settings.topics.confirmed}, ${settings.topics.refunded}`);
      log('Tail the events with: npm run events');
      return;
    }
    case 'down':
      await down(settings, log);
      return;
    case 'fetch':
      log((await ensureJars(settings, log)) ? `Jars fetched into ${settings.jarsDir}.` : `Jars already in ${settings.jarsDir}.`);
      return;
    case 'redeliver': {
      const { since, until } = redeliveryWindow(process.argv.slice(3));
      const count = await redeliverOutbox(settings, since, until);
      log(`${count} outbox event(s) created since ${since.toISOString()}${until ? ` and before ${until.toISOString()}` : ''} written again with their ids; ` +
        'the connector sends them again and consumers de-duplicate on the id header.');
      return;
    }
    case 'status':
      console.log(JSON.stringify(await status(settings), null, 2));
      return;
    default:
      console.error('usage: node debezium/cdc.ts up|down|status|fetch|redeliver --since <timestamp> [--until <timestamp>]');
      process.exitCode = 2;
  }
}

function redeliveryWindow(args: string[]): { since: Date; until: Date | undefined } {
  const { values } = parseArgs({ args, options: { since: { type: 'string' }, until: { type: 'string' } } });
  const time = (name: string, value: string | undefined): Date | undefined => {
    if (value === undefined) return undefined;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new Error(`--${name} must be a timestamp such as 2026-11-27T09:00:00Z, got ${JSON.stringify(value)}`);
    return date;
  };
  const since = time('since', values.since);
  if (!since) throw new Error('--since <timestamp> is required: the outbox rows created since then are sent again');
  const until = time('until', values.until);
  if (until && until <= since) throw new Error('--until must be later than --since');
  return { since, until };
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(`[cdc] ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
