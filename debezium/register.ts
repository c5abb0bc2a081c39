// Registers the connector file with a running Kafka Connect (distributed) worker through its REST
// API: PUT /connectors/<name>/config, which creates or updates, so it can run on every start.
// docker-compose.yml runs it once as the `connect-register` service; it works against any
// Connect cluster (CONNECT_URL) whose workers have config.providers=env and the CDC_DATABASE_*
// and ORDER_CONFIRMED_TOPIC variables the file refers to.
//   CONNECT_URL=http://localhost:8083 node debezium/register.ts [connector-file]
// Only node: built-ins, so it runs in a bare node image with just this folder mounted.
import { join } from 'node:path';
import { connectorStatus, putConnectorConfig, waitForRestApi, waitForRunning } from './connect-rest.ts';
import { readConnectorFile } from './settings.ts';

const connectUrl = (process.env.CONNECT_URL || 'http://localhost:8083').replace(/\/$/, '');
const file = process.argv[2] || join(import.meta.dirname, 'checkout-outbox-connector.json');
const timeoutMs = Number(process.env.CONNECT_WAIT_MS || 300_000);

async function main(): Promise<void> {
  const { name, config } = readConnectorFile(file);
  console.log(`waiting for Kafka Connect at ${connectUrl}…`);
  await waitForRestApi(connectUrl, { timeoutMs, logHint: 'the Kafka Connect container log' });
  const code = await putConnectorConfig(connectUrl, name, config);
  console.log(`${code === 201 ? 'created' : 'updated'} connector ${name} from ${file}`);
  await waitForRunning(connectUrl, name, { timeoutMs, logHint: 'the Kafka Connect container log' });
  console.log(`connector ${name} RUNNING: ${JSON.stringify(await connectorStatus(connectUrl, name))}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
