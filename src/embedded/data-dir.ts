import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';

/**
 * Creates DATA_DIR (and its parents) for whatever of the embedded defaults needs it: the embedded
 * PostgreSQL, and the Stripe simulator's journal and webhook secret, which are needed with
 * DATABASE_URL set too. A folder that cannot be created is named, with the reason.
 */
export async function ensureDataDir(dataDir: string): Promise<void> {
  const path = resolve(dataDir);
  try {
    await mkdir(path, { recursive: true });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    throw new Error(`DATA_DIR ${path} cannot be created (${err.code ?? 'error'}: ${err.message}); set DATA_DIR to a writable folder`, { cause: error });
  }
}
