// Local CDC without Docker: Kafka (KRaft) + Kafka Connect + Debezium as plain Java processes.
//   npm run cdc:up       fetch the jars (first run), start both, wait until the connector streams
//   npm run cdc:down     stop both by PID (SIGTERM, then SIGKILL after a timeout)
//   node debezium/cdc.ts fetch    only fetch the jars (up and the tests fetch them when missing)
//   node debezium/cdc.ts status
// Environment: DATABASE_OWNER_URL or DATABASE_URL (required for up, unless npm start's embedded
// PostgreSQL is there), CDC_DATABASE_USER (default checkout_cdc),
// CDC_DATABASE_PASSWORD, ORDER_CONFIRMED_TOPIC, CDC_KAFKA_PORT (9092), CDC_CONTROLLER_PORT (9093),
// CDC_CONNECT_PORT (8083), CDC_STATE_DIR (.cdc), CDC_START_TIMEOUT_MS (180000).
import { ensureJars } from './jars.ts';
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
      log(`Kafka: KAFKA_BROKERS=127.0.0.1:${settings.kafkaPort}  topic: ${settings.topic}`);
      log('Tail the events with: npm run events');
      return;
    }
    case 'down':
      await down(settings, log);
      return;
    case 'fetch':
      log((await ensureJars(settings, log)) ? `Jars fetched into ${settings.jarsDir}.` : `Jars already in ${settings.jarsDir}.`);
      return;
    case 'status':
      console.log(JSON.stringify(await status(settings), null, 2));
      return;
    default:
      console.error('usage: node debezium/cdc.ts up|down|status|fetch');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((err: unknown) => {
  console.error(`[cdc] ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
