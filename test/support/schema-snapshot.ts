// A normalized, sorted text description of what the migrations build, from pg_catalog alone (no
// pg_dump: it may be missing or of another major version than the server). STYLE.md item 7: the
// committed copy makes every schema change visible in review.
import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';

// Beside the migrations, so a schema change and its snapshot change arrive in one review
// (src/db/migrate.ts runs only NNNN_name.sql files of that folder).
export const committedSnapshotPath = new URL('../../migrations/schema.snapshot.txt', import.meta.url);

// Each branch yields (key, seq, line): one fact per line, multi-line definitions split into lines
// that all carry their object's name, so a diff says which object changed.
const snapshotSql = String.raw`
with
ns as (select oid, nspname from pg_namespace where nspname = 'checkout'),
owner as (select nspowner as oid from pg_namespace where nspname = 'checkout'),
-- ACL items as "grantee:privilege", the owner and PUBLIC named generically so the snapshot does not
-- depend on which superuser ran the migrations; a null ACL is spelled out as the built-in default it
-- means, so "never granted" and "granted, then revoked" compare equal.
acl(objkey, acltext) as (
  select k, coalesce(string_agg(
           case when a.grantee = 0 then 'PUBLIC' when a.grantee = o.owner then 'OWNER' else pg_get_userbyid(a.grantee) end
           || ':' || a.privilege_type || case when a.is_grantable then '*' else '' end, ','
           order by case when a.grantee = 0 then 'PUBLIC' when a.grantee = o.owner then 'OWNER' else pg_get_userbyid(a.grantee) end collate "C",
                    a.privilege_type collate "C"), '(default)')
  from (
    select 'relation ' || c.oid::regclass::text as k,
           coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char", c.relowner)) as a_acl, c.relowner as owner
      from pg_class c join ns on ns.oid = c.relnamespace where c.relkind in ('r', 'v', 'm', 'S', 'p')
    union all
    select 'relation public.pgmigrations', coalesce(c.relacl, acldefault('r'::"char", c.relowner)), c.relowner
      from pg_class c where c.oid = to_regclass('public.pgmigrations')
    union all
    select 'function ' || p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f'::"char", p.proowner)), p.proowner
      from pg_proc p join ns on ns.oid = p.pronamespace
    union all
    select 'schema checkout', coalesce(n.nspacl, acldefault('n'::"char", n.nspowner)), n.nspowner from pg_namespace n where n.nspname = 'checkout'
    union all
    select 'database', coalesce(d.datacl, acldefault('d'::"char", d.datdba)), d.datdba from pg_database d where d.datname = current_database()
    union all
    select 'type ' || t.oid::regtype::text, coalesce(t.typacl, acldefault('T'::"char", t.typowner)), t.typowner
      from pg_type t join ns on ns.oid = t.typnamespace where t.typtype = 'e'
  ) o(k, a_acl, owner)
  -- PostgreSQL 17 gives every owner MAINTAIN (a privilege 15 and 16 lack): the owner's is implied.
  left join lateral (select * from aclexplode(o.a_acl) x where not (x.privilege_type = 'MAINTAIN' and x.grantee = o.owner)) a on true
  group by k
),
items(key, seq, line) as (
  select 'acl ' || objkey, 0, 'acl ' || objkey || ' = ' || acltext from acl
  union all
  select 'defaultacl ' || d.defaclobjtype::text, 0, 'default acl in schema checkout for objects of type ' || d.defaclobjtype::text || ' = '
         || coalesce((select string_agg(case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end || ':' || a.privilege_type, ','
                      order by case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end collate "C", a.privilege_type collate "C")
                      from aclexplode(d.defaclacl) a), '(none)')
    from pg_default_acl d join ns on ns.oid = d.defaclnamespace
  union all
  select 'relation ' || c.oid::regclass::text, 0,
         'relation ' || c.oid::regclass::text || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
         || ' rls=' || c.relrowsecurity || ' forcerls=' || c.relforcerowsecurity
    from pg_class c join ns on ns.oid = c.relnamespace where c.relkind in ('r', 'v', 'm', 'S', 'p', 'c', 'f')
  union all
  select 'relation ' || c.oid::regclass::text || ' column ' || lpad(a.attnum::text, 3, '0'), 0,
         'column ' || c.oid::regclass::text || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
         || case when a.attnotnull then ' not null' else '' end
         || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
         || case a.attidentity when 'a' then ' identity always' when 'd' then ' identity by default' else '' end
         || case a.attgenerated when 's' then ' generated stored' else '' end
         || case when a.attcollation <> 0 and a.attcollation <> (select oid from pg_collation where collname = 'default') then ' collate ' || a.attcollation::regcollation::text else '' end
    from pg_class c join ns on ns.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef ad on ad.adrelid = c.oid and ad.adnum = a.attnum
   where c.relkind in ('r', 'v', 'm', 'p', 'c', 'f')
  union all
  select 'constraint ' || r.conrelid::regclass::text || ' ' || r.conname, 0,
         'constraint ' || r.conrelid::regclass::text || ' ' || r.conname || ': ' || pg_get_constraintdef(r.oid)
    -- PostgreSQL 18 also records NOT NULL as constraints (contype n); the column lines say not null on every major.
    from pg_constraint r join ns on ns.oid = r.connamespace where r.conrelid <> 0 and r.contype <> 'n'
  union all
  select 'index ' || i.indexrelid::regclass::text, 0, 'index ' || pg_get_indexdef(i.indexrelid)
    from pg_index i join pg_class c on c.oid = i.indrelid join ns on ns.oid = c.relnamespace
  union all
  select 'sequence ' || s.seqrelid::regclass::text, 0,
         'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, null) || ' start ' || s.seqstart
         || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
    from pg_sequence s join pg_class c on c.oid = s.seqrelid join ns on ns.oid = c.relnamespace
  union all
  select 'function ' || p.oid::regprocedure::text, 0,
         'function ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
         || ' kind=' || p.prokind::text || ' volatility=' || p.provolatile::text || ' security_definer=' || p.prosecdef
         || ' strict=' || p.proisstrict || ' parallel=' || p.proparallel::text::text
         || ' config=' || coalesce(array_to_string(p.proconfig, ';'), '(none)')
    from pg_proc p join ns on ns.oid = p.pronamespace
  union all
  select 'function ' || p.oid::regprocedure::text, l.n,
         'function ' || p.oid::regprocedure::text || ' | ' || l.line
    from pg_proc p join ns on ns.oid = p.pronamespace
    cross join lateral regexp_split_to_table(rtrim(pg_get_functiondef(p.oid), E'\n'), E'\n') with ordinality l(line, n)
  union all
  select 'trigger ' || t.tgrelid::regclass::text || ' ' || t.tgname, 0,
         'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text::text
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join ns on ns.oid = c.relnamespace where not t.tgisinternal
  union all
  -- PostgreSQL 16+ prints a single-relation view's columns unqualified, 15 as "rel.col": the text
  -- drops every qualifier but the schema's, and the lines below name each column a view reads.
  select 'view ' || c.oid::regclass::text, l.n,
         'view ' || c.oid::regclass::text || ' | ' || regexp_replace(l.line, '\m(?!checkout\.)[a-z_][a-z0-9_]*\.(?=[a-z_])', '', 'g')
    from pg_class c join ns on ns.oid = c.relnamespace
    cross join lateral regexp_split_to_table(pg_get_viewdef(c.oid, true), E'\n') with ordinality l(line, n)
   where c.relkind in ('v', 'm')
  union all
  select distinct 'view ' || c.oid::regclass::text, 100000, 'view ' || c.oid::regclass::text || ' reads ' || r.name
    from pg_class c join ns on ns.oid = c.relnamespace
    join pg_rewrite rw on rw.ev_class = c.oid
    join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid and d.refobjid <> c.oid
    cross join lateral (select case
           when d.refclassid = 'pg_proc'::regclass then 'function ' || d.refobjid::regprocedure::text
           when d.refclassid <> 'pg_class'::regclass then null
           when d.refobjsubid = 0 then 'relation ' || d.refobjid::regclass::text
           else 'column ' || d.refobjid::regclass::text || '.' || (select attname from pg_attribute where attrelid = d.refobjid and attnum = d.refobjsubid) end) r(name)
   where c.relkind in ('v', 'm') and r.name ~ '^\w+ checkout\.'
  union all
  select 'type ' || t.oid::regtype::text, e.enumsortorder::int,
         'enum ' || t.oid::regtype::text || ' label ' || e.enumsortorder || ' ' || e.enumlabel
    from pg_type t join ns on ns.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid
  union all
  select 'type ' || t.oid::regtype::text, 0, 'type ' || t.oid::regtype::text || ' typtype=' || t.typtype::text::text
    from pg_type t join ns on ns.oid = t.typnamespace where t.typtype in ('e', 'd', 'r', 'm')
  union all
  select 'policy ' || pol.polrelid::regclass::text || ' ' || pol.polname, 0,
         'policy ' || pol.polrelid::regclass::text || ' ' || pol.polname || ' cmd=' || pol.polcmd::text::text
         || ' using=' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' check=' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
    from pg_policy pol join pg_class c on c.oid = pol.polrelid join ns on ns.oid = c.relnamespace
  union all
  select 'publication ' || p.pubname, 0,
         'publication ' || p.pubname || ' alltables=' || p.puballtables || ' insert=' || p.pubinsert || ' update=' || p.pubupdate
         || ' delete=' || p.pubdelete || ' truncate=' || p.pubtruncate
    from pg_publication p
  union all
  select 'publication ' || pt.pubname || ' table ' || pt.schemaname || '.' || pt.tablename, 0,
         'publication ' || pt.pubname || ' table ' || pt.schemaname || '.' || pt.tablename
    from pg_publication_tables pt
  union all
  select 'extension ' || x.extname, 0, 'extension ' || x.extname || ' in schema ' || x.extnamespace::regnamespace::text
    from pg_extension x
  union all
  -- Roles are cluster-wide; only the service's own are part of this schema's contract.
  select 'role ' || r.rolname, 0,
         'role ' || r.rolname || ' login=' || r.rolcanlogin || ' replication=' || r.rolreplication || ' superuser=' || r.rolsuper
         || ' createrole=' || r.rolcreaterole || ' createdb=' || r.rolcreatedb || ' bypassrls=' || r.rolbypassrls
         || ' comment=' || coalesce(shobj_description(r.oid, 'pg_authid'), '(none)')
    from pg_roles r where r.rolname like 'checkout\_%'
  union all
  select 'comment ' || coalesce(
           case d.classoid
             when 'pg_class'::regclass then case when d.objsubid = 0 then 'relation ' || d.objoid::regclass::text
                                                 else 'column ' || d.objoid::regclass::text || '.' || (select attname from pg_attribute where attrelid = d.objoid and attnum = d.objsubid) end
             when 'pg_proc'::regclass then 'function ' || d.objoid::regprocedure::text
             when 'pg_type'::regclass then 'type ' || d.objoid::regtype::text
             when 'pg_namespace'::regclass then 'schema ' || d.objoid::regnamespace::text
             when 'pg_trigger'::regclass then 'trigger ' || (select tgrelid::regclass::text || ' ' || tgname from pg_trigger where oid = d.objoid)
             when 'pg_constraint'::regclass then 'constraint ' || (select conname from pg_constraint where oid = d.objoid)
             when 'pg_publication'::regclass then 'publication ' || (select pubname from pg_publication where oid = d.objoid)
           end, 'object ' || d.classoid::regclass::text), 0,
         'comment on ' || coalesce(
           case d.classoid
             when 'pg_class'::regclass then case when d.objsubid = 0 then 'relation ' || d.objoid::regclass::text
                                                 else 'column ' || d.objoid::regclass::text || '.' || (select attname from pg_attribute where attrelid = d.objoid and attnum = d.objsubid) end
             when 'pg_proc'::regclass then 'function ' || d.objoid::regprocedure::text
             when 'pg_type'::regclass then 'type ' || d.objoid::regtype::text
             when 'pg_namespace'::regclass then 'schema ' || d.objoid::regnamespace::text
             when 'pg_trigger'::regclass then 'trigger ' || (select tgrelid::regclass::text || ' ' || tgname from pg_trigger where oid = d.objoid)
             when 'pg_constraint'::regclass then 'constraint ' || (select conname from pg_constraint where oid = d.objoid)
             when 'pg_publication'::regclass then 'publication ' || (select pubname from pg_publication where oid = d.objoid)
           end, 'object ' || d.classoid::regclass::text) || ' = ' || replace(d.description, E'\n', '\n')
    from pg_description d
   where (d.classoid = 'pg_class'::regclass and d.objoid in (select c.oid from pg_class c join ns on ns.oid = c.relnamespace))
      or (d.classoid = 'pg_proc'::regclass and d.objoid in (select p.oid from pg_proc p join ns on ns.oid = p.pronamespace))
      or (d.classoid = 'pg_type'::regclass and d.objoid in (select t.oid from pg_type t join ns on ns.oid = t.typnamespace))
      or (d.classoid = 'pg_namespace'::regclass and d.objoid in (select oid from ns))
      or (d.classoid = 'pg_trigger'::regclass and d.objoid in (select t.oid from pg_trigger t join pg_class c on c.oid = t.tgrelid join ns on ns.oid = c.relnamespace))
      or (d.classoid = 'pg_constraint'::regclass and d.objoid in (select r.oid from pg_constraint r join ns on ns.oid = r.connamespace))
      or d.classoid = 'pg_publication'::regclass
)
select line from items order by key collate "C", seq, line collate "C"`;

/**
 * The majors the normalisation above was checked on (issue 11 item 4): the snapshot built on any of
 * them is the same text, so one committed file guards every server the suite may run on.
 */
export const supportedMajors = { from: 15, to: 18 } as const;
const header = `schema of migrations/, normalised to compare on PostgreSQL ${supportedMajors.from} to ${supportedMajors.to}`;

/** The schema of the database at `url`, one fact per line, sorted; the same migrations give the same text. */
export async function schemaSnapshot(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ line: string }>(snapshotSql);
    return [header, ...rows.map((r) => r.line)].join('\n') + '\n';
  } finally {
    await client.end();
  }
}

/** The major version of the server at `url`. */
export async function serverMajor(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: [row] } = await client.query<{ major: number }>(`select current_setting('server_version_num')::int / 10000 as major`);
    return row!.major;
  } finally {
    await client.end();
  }
}

/** Lines only in `expected` (-) or only in `actual` (+): enough to see what changed, without a diff library. */
export function snapshotDiff(expected: string, actual: string, limit = 60): string {
  const before = new Set(expected.split('\n'));
  const after = new Set(actual.split('\n'));
  const lines = [
    ...[...before].filter((l) => !after.has(l)).map((l) => `- ${l}`),
    ...[...after].filter((l) => !before.has(l)).map((l) => `+ ${l}`),
  ];
  const shown = lines.slice(0, limit).join('\n');
  return lines.length > limit ? `${shown}\n… and ${lines.length - limit} more lines` : shown;
}

export async function readCommittedSnapshot(): Promise<string | null> {
  return readFile(committedSnapshotPath, 'utf8').catch(() => null);
}

export async function writeCommittedSnapshot(text: string): Promise<void> {
  await writeFile(committedSnapshotPath, text);
}
