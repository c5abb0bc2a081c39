import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';

export const migrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url));
export const migrationsTable = 'pgmigrations';

/** Names of the migrations this build ships, in order (what /readyz expects to find applied). */
export async function shippedMigrations(): Promise<string[]> {
  const files = await readdir(migrationsDir);
  return files.filter((f) => f.endsWith('.sql')).map((f) => f.replace(/\.sql$/, '')).sort();
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
    singleTransaction: true,
    log: options.log ?? (() => {}),
  });
}
