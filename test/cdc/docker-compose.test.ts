// docker-compose.yml cannot run on the CI machines (no Docker engine), so this keeps it
// consistent with the code instead: service names, ports, environment, the connector file.
import { describe, expect, test } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_TOPICS, readConnectorFile } from '../../debezium/settings.ts';

const root = join(import.meta.dirname, '..', '..');

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string): Record<string, string> => svc(name).environment ?? {};
const pomProperty = (prop: string): string => {
  const match = readFileSync(join(root, 'debezium', 'pom.xml'), 'utf8').match(new RegExp(`<${prop}>([^<]+)</${prop}>`));
  if (!match) throw new Error(`debezium/pom.xml has no <${prop}>`);
  return match[1]!;
};
/** Compose's ${VAR:-default} as the value a user gets without setting VAR. */
const withDefaults = (value: string): string => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
/** "127.0.0.1:5432:5432" / "9092:9092" → the published host port for a container port. */
const hostPort = (name: string, containerPort: number): number | undefined => {
  for (const mapping of svc(name).ports ?? []) {
    const parts = withDefaults(mapping).split(':');
    if (Number(parts.at(-1)) === containerPort) return Number(parts.at(-2));
  }
  return undefined;
};

describe('docker-compose.yml', () => {
  test('has the services the README names', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['checkout-service', 'connect', 'connect-register', 'kafka', 'migrate', 'postgres'].sort(),
    );
  });

  test('PostgreSQL runs with wal_level=logical and the database the others use', () => {
    expect(svc('postgres').command?.join(' ')).toMatch(/-c wal_level=logical/);
    const db = env('postgres').POSTGRES_DB;
    for (const url of [env('checkout-service').DATABASE_URL!, env('migrate').DATABASE_OWNER_URL!]) {
      expect(new URL(url).pathname).toBe(`/${db}`);
      expect(new URL(url).hostname).toBe('postgres');
    }
    expect(env('connect').CDC_DATABASE_NAME).toBe(db);
    expect(env('connect').CDC_DATABASE_HOST).toBe('postgres');
    expect(env('connect').CDC_DATABASE_USER).toBe('checkout_cdc');
  });

  test('Kafka is a KRaft single node of the version the local runner fetches, on localhost:9092 for the host', () => {
    expect(svc('kafka').image).toBe(`apache/kafka:${pomProperty('kafka.version')}`);
    const k = env('kafka');
    expect(k.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    // The host-facing listener is what KAFKA_BROKERS defaults to (CONTRACT.md, npm run events).
    expect(k.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT_HOST://localhost:9092');
    expect(hostPort('kafka', 9092)).toBe(9092);
    // Containers reach it through the advertised internal listener.
    const internal = k.KAFKA_ADVERTISED_LISTENERS!.match(/PLAINTEXT:\/\/([^,]+)/)![1];
    expect(env('connect').BOOTSTRAP_SERVERS).toBe(internal);
    expect(env('checkout-service').KAFKA_BROKERS).toBe(internal);
  });

  test('Debezium Connect resolves every ${env:...} of the connector file', () => {
    expect(svc('connect').image).toBe(`quay.io/debezium/connect:${pomProperty('debezium.version')}`);
    const c = env('connect');
    expect(c.CONNECT_CONFIG_PROVIDERS).toBe('env');
    expect(c.CONNECT_CONFIG_PROVIDERS_ENV_CLASS).toBe('org.apache.kafka.common.config.provider.EnvVarConfigProvider');
    const { config } = readConnectorFile(join(root, 'debezium', 'checkout-outbox-connector.json'));
    const placeholders = Object.values(config).flatMap((v) => [...v.matchAll(/\$\{env:([A-Z_]+)\}/g)].map((m) => m[1]!));
    expect(placeholders.length).toBeGreaterThan(0);
    for (const name of placeholders) expect(Object.keys(c)).toContain(name);
    expect(hostPort('connect', 8083)).toBe(8083);
  });

  test('the service and the connector agree on the topics, the contract defaults', () => {
    expect(withDefaults(env('checkout-service').ORDER_CONFIRMED_TOPIC!)).toBe(DEFAULT_TOPICS.confirmed);
    expect(withDefaults(env('checkout-service').ORDER_REFUNDED_TOPIC!)).toBe(DEFAULT_TOPICS.refunded);
    expect(env('connect').ORDER_CONFIRMED_TOPIC).toBe(env('checkout-service').ORDER_CONFIRMED_TOPIC);
    expect(env('connect').ORDER_REFUNDED_TOPIC).toBe(env('checkout-service').ORDER_REFUNDED_TOPIC);
  });

  test('the service is configured through the variables of CONTRACT.md, with the Stripe simulator', () => {
    const s = env('checkout-service');
    expect(Object.keys(s)).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'KAFKA_BROKERS', 'ORDER_CONFIRMED_TOPIC']));
    expect(s).not.toHaveProperty('STRIPE_SECRET_KEY'); // unset: the simulator
    expect(s).not.toHaveProperty('STRIPE_WEBHOOK_SECRET');
    expect(hostPort('checkout-service', Number(s.PORT))).toBe(Number(s.PORT));
    expect(s.HOST).toBe('0.0.0.0'); // the service listens on 127.0.0.1 by default
    expect(hostPort('checkout-service', Number(s.STRIPE_SIMULATOR_PORT))).toBe(Number(s.STRIPE_SIMULATOR_PORT));
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['migrate', 'checkout-service']) {
      for (const script of svc(name).command!.join(' ').matchAll(/npm run ([\w:-]+)/g)) expect(scripts).toHaveProperty(script[1]!);
    }
    expect(svc('checkout-service').command!.join(' ')).toBe('npm start');
  });

  // Issue 10.4: the service logs in as its own role; only the one-shot migrate step is the owner.
  test('the migrations run first as the owner, and the service logs in as checkout_app', () => {
    expect(svc('migrate').command!.join(' ')).toMatch(/npm ci && npm run migrate$/);
    expect(new URL(env('migrate').DATABASE_OWNER_URL!).username).toBe(env('postgres').POSTGRES_USER);
    expect(env('migrate')).not.toHaveProperty('DATABASE_URL');
    expect(new URL(env('checkout-service').DATABASE_URL!).username).toBe('checkout_app');
    expect(env('checkout-service')).not.toHaveProperty('DATABASE_OWNER_URL');
    expect(env('checkout-service')).not.toHaveProperty('MIGRATE_ON_START');
    expect(svc('checkout-service').depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
  });

  test('connect-register PUTs the connector file of debezium/ after the migrations ran', () => {
    const r = svc('connect-register');
    const mount = r.volumes!.find((v) => v.startsWith('./debezium:'))!;
    const inContainer = mount.split(':')[1]!;
    const [, script, file] = r.command!;
    expect(script).toBe(`${inContainer}/register.ts`);
    expect(existsSync(join(root, 'debezium', 'register.ts'))).toBe(true);
    expect(file!.startsWith(`${inContainer}/`)).toBe(true);
    expect(existsSync(join(root, 'debezium', file!.slice(inContainer.length + 1)))).toBe(true);
    expect(r.environment!.CONNECT_URL).toBe('http://connect:8083');
    expect(r.depends_on).toMatchObject({
      connect: { condition: 'service_healthy' },
      'checkout-service': { condition: 'service_healthy' },
    });
  });
});
