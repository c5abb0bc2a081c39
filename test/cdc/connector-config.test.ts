// The connector file's promises (CONTRACT.md "Kafka: OrderConfirmed", issue 5) and how the
// runner turns DATABASE_URL into the connector's environment. No processes started.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectorEnv, databaseTarget, loadSettings, readConnectorFile } from '../../debezium/settings.ts';

const { name, config } = readConnectorFile(join(import.meta.dirname, '..', '..', 'debezium', 'checkout-outbox-connector.json'));

describe('debezium/checkout-outbox-connector.json', () => {
  test('streams the outbox through the migrations publication and a named slot; snapshots the outbox when no offsets or slot position are usable', () => {
    expect(name).toBe('checkout-outbox');
    expect(config).toMatchObject({
      'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
      'plugin.name': 'pgoutput',
      'publication.name': 'checkout_outbox',
      'publication.autocreate.mode': 'disabled',
      'slot.name': 'checkout_outbox',
      'table.include.list': 'checkout.outbox',
      // Rows written before the connector first ran, or while its slot was lost, are sent by a
      // snapshot of the outbox (test/cdc/outbox-to-kafka.test.ts); nothing committed is skipped.
      'snapshot.mode': 'when_needed',
      'offset.mismatch.strategy': 'trust_offset',
      'lsn.flush.mode': 'connector',
    });
    expect(config['heartbeat.action.query']).toMatch(/^INSERT INTO checkout\.cdc_heartbeat\b/);
    expect(Number(config['poll.interval.ms'])).toBeLessThan(500);
    expect(Number(config['heartbeat.interval.ms'])).toBeGreaterThan(0);
  });

  test('routes rows with the Outbox Event Router: key aggregateid, headers id and type, value the payload as is', () => {
    expect(config).toMatchObject({
      'transforms.outbox.type': 'io.debezium.transforms.outbox.EventRouter',
      'transforms.outbox.table.field.event.key': 'aggregateid',
      'transforms.outbox.table.field.event.id': 'id',
      'transforms.outbox.table.fields.additional.placement': 'type:header:type',
      'transforms.outbox.route.by.field': 'type',
      'transforms.orderConfirmedTopic.replacement': '${env:ORDER_CONFIRMED_TOPIC}',
      'transforms.orderRefundedTopic.replacement': '${env:ORDER_REFUNDED_TOPIC}',
      'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
      'value.converter': 'org.apache.kafka.connect.storage.StringConverter',
    });
  });

  test('takes the database and topic from the environment only (no host or secret in the file)', () => {
    for (const key of ['database.hostname', 'database.port', 'database.dbname', 'database.user', 'database.password']) {
      expect(config[key]).toMatch(/^\$\{env:CDC_DATABASE_[A-Z]+\}$/);
    }
  });
});

describe('DATABASE_URL → connector environment', () => {
  test('host, port and database from the URL; the CDC role, not the URL user', () => {
    expect(databaseTarget('postgres://app:secret@db.example:6543/shop?sslmode=disable', {})).toEqual({
      host: 'db.example', port: 6543, name: 'shop', user: 'checkout_cdc', password: '',
    });
    expect(databaseTarget('postgresql://localhost/checkout', { CDC_DATABASE_USER: 'cdc', CDC_DATABASE_PASSWORD: 'pw' })).toEqual({
      host: 'localhost', port: 5432, name: 'checkout', user: 'cdc', password: 'pw',
    });
  });

  test('rejects URLs that name no database or another scheme', () => {
    expect(() => databaseTarget('postgres://localhost:5432', {})).toThrow(/names no database/);
    expect(() => databaseTarget('mysql://localhost/x', {})).toThrow(/postgres:\/\//);
  });

  test('fills every variable the connector file refers to', () => {
    const s = loadSettings({ ORDER_CONFIRMED_TOPIC: 't.x', ORDER_REFUNDED_TOPIC: 't.y' }, 'postgres://h:1/d');
    const vars = connectorEnv(s);
    const refs = Object.values(config).flatMap((v) => [...v.matchAll(/\$\{env:([A-Z_]+)\}/g)].map((m) => m[1]!));
    for (const ref of refs) expect(vars).toHaveProperty(ref);
    expect(vars.ORDER_CONFIRMED_TOPIC).toBe('t.x');
    expect(vars.ORDER_REFUNDED_TOPIC).toBe('t.y');
  });

  test('up without DATABASE_URL and without an embedded PostgreSQL says what to set', () => {
    expect(() => connectorEnv(loadSettings({ DATA_DIR: join(tmpdir(), 'no-such-dir') }, undefined))).toThrow(/DATABASE_OWNER_URL and DATABASE_URL are not set/);
  });

  test("checks the database through DATABASE_OWNER_URL when given (DATABASE_URL is the service's own login)", () => {
    const s = loadSettings({ DATABASE_URL: 'postgres://checkout_app:pw@db.example:5432/checkout', DATABASE_OWNER_URL: 'postgres://owner@db.example:5432/checkout' });
    expect(s.databaseUrl).toBe('postgres://owner@db.example:5432/checkout');
    expect(connectorEnv(s)).toMatchObject({ CDC_DATABASE_HOST: 'db.example', CDC_DATABASE_NAME: 'checkout', CDC_DATABASE_USER: 'checkout_cdc' });
  });

  test("without DATABASE_URL, the service's embedded PostgreSQL, with a password of its own for checkout_cdc", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdc-settings-'));
    try {
      writeFileSync(join(dir, 'postgres.password'), 'p@ss/word\n');
      const s = loadSettings({ DATA_DIR: dir, EMBEDDED_POSTGRES_PORT: '54400', CDC_STATE_DIR: join(dir, 'cdc') }, undefined);
      expect(s.embedded).toBe(true);
      expect(s.databaseUrl).toBe('postgres://postgres:p%40ss%2Fword@127.0.0.1:54400/checkout');
      expect(s.database).toMatchObject({ host: '127.0.0.1', port: 54400, name: 'checkout', user: 'checkout_cdc' });
      expect(s.database!.password).toMatch(/^[\w-]{20,}$/);
      // Stable across runs: the role keeps the password the runner gave it.
      expect(loadSettings({ DATA_DIR: dir, CDC_STATE_DIR: join(dir, 'cdc') }, undefined).database!.password).toBe(s.database!.password);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
