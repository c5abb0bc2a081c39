import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';

const login = z.object({ login: z.string(), superuser: z.boolean(), owner: z.string().nullable() });

/**
 * Refuses a DATABASE_URL whose login could undo least privilege (issue 10.4): a superuser, or a
 * member of the role that owns schema checkout (it could SET ROLE to the owner, then change tables
 * and triggers directly). The service's own login, checkout_app, is neither.
 */
export async function assertServiceLogin(pool: DatabasePool): Promise<void> {
  const { login: name, superuser, owner } = await pool.one(sql.type(login)`
    select current_user as login, r.rolsuper as superuser,
           (select pg_get_userbyid(n.nspowner) from pg_namespace n
             where n.nspname = 'checkout' and pg_has_role(current_user, n.nspowner, 'MEMBER')) as owner
      from pg_roles r where r.rolname = current_user`);
  const why = superuser ? 'a superuser' : owner !== null ? `the owner of schema checkout (${owner}) or a member of it` : undefined;
  if (why) {
    throw new Error(
      `DATABASE_URL logs in as "${name}", ${why}: the service must log in as its own role checkout_app, which owns nothing. ` +
        'Migrations take the owner\'s login from DATABASE_OWNER_URL (README "Configuration").',
    );
  }
}
