import { readFile, rename, writeFile } from 'node:fs/promises';
import type { IdempotencyRecord } from './idempotency.ts';
import type { StoreSnapshot } from './store.ts';

export interface PersistedState {
  store: StoreSnapshot;
  idempotency: IdempotencyRecord[];
}

/** The saved state, or undefined when the file does not exist yet (first start). */
export async function loadStateFile(path: string): Promise<PersistedState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as PersistedState;
  if (parsed?.store?.version !== 1 || !Array.isArray(parsed.idempotency)) {
    throw new Error(`Stripe simulator state file ${path} is not in the expected format (version 1)`);
  }
  return parsed;
}

/**
 * Writes the state atomically (temporary file + rename, so a crash never leaves half a file).
 * Overlapping requests coalesce: at most one write runs, and one more follows it if asked for.
 */
export class StateWriter {
  private readonly path: string;
  private readonly snapshot: () => PersistedState;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(path: string, snapshot: () => PersistedState) {
    this.path = path;
    this.snapshot = snapshot;
  }

  write(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.writeNow().finally(() => { this.running = undefined; });
      return this.running;
    }
    this.queued = this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.write();
    });
    return this.queued;
  }

  private async writeNow(): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.snapshot()), 'utf8');
    await rename(tmp, this.path);
  }
}
