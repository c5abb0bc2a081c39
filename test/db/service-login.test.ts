// Issue 10.4: the service logs in as checkout_app, which owns nothing, so no statement of its own
// connection can undo least privilege; it refuses to start on a login that could.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { sql, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createDatabasePool } from '../../src/db/pool.ts';
import { assertServiceLogin } from '../../src/db/service-login.ts';
import { applyEvent, createOrder, eventTo, sqlstateOf } from '../support/orders.ts';
import { loginUrl } from '../support/postgres.ts';
import { startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(async () => service?.stop());

/** One connection of the running service's own pool, as any code path of the service has. */
const onServiceConnection = <T>(work: (connection: DatabasePoolConnection) => Promise<T>) => service.pool.connect(work);

const names = z.object({ name: z.string() });
const checkoutTables = () =>
  service.db.admin.anyFirst(sql.type(names)`
    select c.relname as name from pg_class c where c.relnamespace = 'checkout'::regnamespace and c.relkind in ('r', 'p') order by 1`);

describe("the service's connection", () => {
  it('is logged in as checkout_app, not a superuser', async () => {
    const who = await service.pool.one(sql.unsafe`
      select current_user, session_user, (select rolsuper from pg_roles where rolname = current_user) as superuser`);
    expect(who).toEqual({ current_user: 'checkout_app', session_user: 'checkout_app', superuser: false });
  });

  it('RESET ROLE leaves it checkout_app: there is no other role to return to, and UPDATE orders still fails (42501)', async () => {
    const { orderId } = await createOrder(service.pool);
    await onServiceConnection(async (connection) => {
      await connection.query(sql.unsafe`reset role`);
      expect(await connection.oneFirst(sql.unsafe`select current_user`)).toBe('checkout_app');
      expect(await sqlstateOf(connection.query(sql.unsafe`update checkout.orders set status = 'PAYMENT_CONFIRMED' where id = ${orderId}`))).toBe('42501');
    });
  });

  it.each([
    ['SET ROLE to the schema owner', () => sql.unsafe`select set_config('role', (select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'checkout'), false)`],
    ['SET ROLE postgres', () => sql.unsafe`set role postgres`],
    ['SET SESSION AUTHORIZATION postgres', () => sql.unsafe`set session authorization postgres`],
    ['SET session_replication_role = replica', () => sql.unsafe`set session_replication_role = replica`],
  ])('cannot %s (42501)', async (_name, statement) => {
    await onServiceConnection(async (connection) => {
      expect(await sqlstateOf(connection.query(statement()))).toBe('42501');
      expect(await connection.oneFirst(sql.unsafe`select current_user`)).toBe('checkout_app');
    });
  });

  it('cannot INSERT, UPDATE, DELETE or TRUNCATE any table of schema checkout, nor disable its triggers (42501 each)', async () => {
    const tables = await checkoutTables();
    expect(tables).toEqual(expect.arrayContaining(['orders', 'order_status_history', 'outbox', 'stripe_events']));
    const outcomes: Record<string, string> = {};
    for (const table of tables) {
      const t = sql.identifier(['checkout', table]);
      // Not an identity column: updating that fails for another reason (428C9) before privileges.
      const [column] = await service.db.admin.anyFirst(sql.type(names)`
        select attname as name from pg_attribute where attrelid = ${`checkout.${table}`}::regclass and attnum > 0 and not attisdropped and attidentity = '' and attgenerated = '' order by attnum limit 1`);
      const c = sql.identifier([column!]);
      for (const [what, statement] of [
        ['insert', sql.unsafe`insert into ${t} default values`],
        ['update', sql.unsafe`update ${t} set ${c} = ${c}`],
        ['delete', sql.unsafe`delete from ${t}`],
        ['truncate', sql.unsafe`truncate ${t}`],
        ['disable trigger', sql.unsafe`alter table ${t} disable trigger all`],
      ] as const) {
        outcomes[`${what} ${table}`] = await sqlstateOf(service.pool.query(statement));
      }
    }
    expect(Object.entries(outcomes).filter(([, code]) => code !== '42501')).toEqual([]);
    expect(Object.keys(outcomes)).toHaveLength(tables.length * 5);
  });

  it('cannot call any function of schema checkout but the API functions (42501 each)', async () => {
    const internal = await service.db.admin.any(sql.type(z.object({ name: z.string(), args: z.array(z.string()) }))`
      select p.oid::regproc::text as name, array(select format_type(t, null) from unnest(p.proargtypes::oid[]) with ordinality a(t, n) order by n) as args
        from pg_proc p where p.pronamespace = 'checkout'::regnamespace and not has_function_privilege('checkout_app', p.oid, 'execute')`);
    expect(internal.map((f) => f.name)).toEqual(expect.arrayContaining([
      'checkout.confirm_payment', 'checkout.cancel_order', 'checkout.refund_order', 'checkout.close_order', 'checkout.lock_order', 'checkout.set_transition_context',
    ]));
    // Arguments are typed nulls: the privilege check comes before the function runs. (A plain pg
    // client, since slonik builds no statement text from a catalog row.)
    const client = new pg.Client({ connectionString: service.db.appUrl });
    await client.connect();
    try {
      const outcomes: Record<string, string> = {};
      for (const f of internal) {
        outcomes[f.name] = await sqlstateOf(client.query(`select ${f.name}(${f.args.map((type) => `null::${type}`).join(', ')})`));
      }
      expect(Object.entries(outcomes).filter(([, code]) => code !== '42501')).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('writes history rows that name checkout_app as db_user', async () => {
    const { orderId } = await createOrder(service.pool);
    const { type, object } = eventTo('PAYMENT_CONFIRMED', orderId);
    expect(await applyEvent(service.pool, type, object)).toBe('applied');
    const rows = await service.db.admin.any(sql.unsafe`
      select to_status, db_user from checkout.order_status_history where order_id = ${orderId} order by id`);
    expect(rows).toEqual([
      { to_status: 'PENDING_PAYMENT', db_user: 'checkout_app' },
      { to_status: 'PAYMENT_CONFIRMED', db_user: 'checkout_app' },
    ]);
  });
});

describe('a login that could undo least privilege', () => {
  it('is refused at start: a superuser as DATABASE_URL', async () => {
    await expect(assertServiceLogin(service.db.admin)).rejects.toThrow(/^DATABASE_URL logs in as "postgres", a superuser: the service must log in as its own role checkout_app/);
  });

  it('is refused at start: a member of the schema owner', async () => {
    const role = `checkout_test_owner_member_${randomBytes(4).toString('hex')}`;
    await service.db.admin.query(sql.unsafe`create role ${sql.identifier([role])} login`);
    const owner = await service.db.admin.oneFirst(sql.type(names)`select pg_get_userbyid(nspowner) as name from pg_namespace where nspname = 'checkout'`);
    await service.db.admin.query(sql.unsafe`grant ${sql.identifier([owner])} to ${sql.identifier([role])}`);
    const member = await createDatabasePool(loginUrl(service.db.url, role), { maxPoolSize: 1 });
    try {
      await expect(assertServiceLogin(member)).rejects.toThrow(new RegExp(`^DATABASE_URL logs in as "${role}", the owner of schema checkout \\(${owner}\\) or a member of it`));
    } finally {
      await member.end();
      await service.db.admin.query(sql.unsafe`drop role ${sql.identifier([role])}`);
    }
  });

  it('is accepted: checkout_app', async () => {
    await expect(assertServiceLogin(service.db.app)).resolves.toBeUndefined();
  });
});

describe('database configuration', () => {
  const base = { DATABASE_URL: 'postgres://checkout_app@db.example/checkout' };
  it.each([
    ['DATABASE_ROLE (removed)', { ...base, DATABASE_ROLE: 'checkout_app' }, /DATABASE_ROLE: removed: DATABASE_URL must log in as the service's own role/],
    ['MIGRATE_ON_START without an owner', { ...base, MIGRATE_ON_START: 'true' }, /MIGRATE_ON_START: true needs DATABASE_OWNER_URL/],
    ['an owner without DATABASE_URL', { DATABASE_OWNER_URL: 'postgres://owner@db.example/checkout' }, /DATABASE_OWNER_URL: set it together with DATABASE_URL/],
  ])('refuses %s, naming the variable', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes migrations on start with an owner URL', () => {
    const config = loadConfig({ ...base, DATABASE_OWNER_URL: 'postgres://owner@db.example/checkout', MIGRATE_ON_START: 'true' });
    expect(config).toMatchObject({ MIGRATE_ON_START: true, DATABASE_OWNER_URL: 'postgres://owner@db.example/checkout', embeddedPostgres: false });
  });
});
