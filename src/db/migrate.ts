import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

export const migrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url));
export const migrationsTable = 'pgmigrations';
/** Only NNNN_name.sql files are migrations; CONVENTIONS.md and the schema snapshot live beside them. */
const migrationFile = /^\d{4}_[a-z0-9_]+\.sql$/;

/** Names of the migrations this build ships, in order (what /readyz expects to find applied). */
export async function shippedMigrations(): Promise<string[]> {
  const files = await readdir(migrationsDir);
  return files.filter((f) => migrationFile.test(f)).map((f) => f.replace(/\.sql$/, '')).sort();
}

/**
 * Applies (or with direction 'down', reverts `count`) migrations. Needs a role that may create
 * schemas and roles: the owner, not the application role.
 */
export async function migrate(
  databaseUrl: string,
  options: { direction?: 'up' | 'down'; count?: number; log?: (msg: string) => void } = {},
): Promise<void> {
  await runner({
    databaseUrl,
    dir: migrationsDir,
    migrationsTable,
    direction: options.direction ?? 'up',
    count: options.count ?? Infinity,
    checkOrder: true,
    // node-pg-migrate anchors this pattern: ignore every file that is not a numbered migration.
    ignorePattern: '(?!\\d{4}_[a-z0-9_]+\\.sql$).*',
    singleTransaction: true,
    log: options.log ?? (() => {}),
  });
}
