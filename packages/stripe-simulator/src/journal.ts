import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IdempotencyRecord } from './idempotency.ts';
import type { StoreChanges } from './store.ts';

/** One line of the journal: what one change touched, or part of a compacted state. */
export interface JournalEntry extends Partial<StoreChanges> {
  idempotency?: IdempotencyRecord[];
  clockOffsetMs?: number;
}

const HEADER = { journal: 'stripe-simulator', version: 2 } as const;
const CHUNK_BYTES = 1 << 20;

export interface JournalContents {
  entries: JournalEntry[];
  /** A last line without its newline: the process died while writing it (its answer was never sent). */
  tornTail: boolean;
}

/**
 * Reads a journal: a header line, then one JSON line per change. Also reads the single-snapshot
 * state file of earlier versions (`{"store":{"version":1,…},"idempotency":[…]}`), so an existing
 * DATA_DIR keeps its PaymentIntents. Undefined when the file does not exist yet.
 */
export async function readJournal(path: string): Promise<JournalContents | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const entries: JournalEntry[] = [];
  let start = 0;
  let lineNumber = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) {
      // A header or earlier snapshot is written whole (then renamed into place), so only a later line can be torn.
      if (lineNumber > 0) return { entries, tornTail: true };
      end = text.length;
    }
    lineNumber += 1;
    const line = text.slice(start, end);
    start = end + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`Stripe simulator journal ${path}: line ${lineNumber} is not JSON (the file is damaged; only a torn last line is tolerated)`);
    }
    if (lineNumber === 1) {
      const legacy = fromLegacySnapshot(parsed);
      if (legacy) {
        entries.push(legacy);
        continue;
      }
      if (!isHeader(parsed)) throw new Error(`Stripe simulator journal ${path} is not in the expected format (${JSON.stringify(HEADER)})`);
      continue;
    }
    entries.push(parsed as JournalEntry);
  }
  return { entries, tornTail: false };
}

function isHeader(value: unknown): boolean {
  const v = value as Record<string, unknown> | null;
  return v !== null && typeof v === 'object' && v.journal === HEADER.journal && v.version === HEADER.version;
}

interface LegacySnapshot {
  store: { version: 1; paymentIntents: []; charges: Array<Record<string, unknown>>; refunds: []; paymentMethods: []; paymentMethodSources: Record<string, string>; events: [] };
  idempotency: IdempotencyRecord[];
}

function fromLegacySnapshot(value: unknown): JournalEntry | undefined {
  const legacy = value as LegacySnapshot | null;
  if (legacy === null || typeof legacy !== 'object' || legacy.store?.version !== 1 || !Array.isArray(legacy.idempotency)) return undefined;
  const { store } = legacy;
  return {
    paymentIntents: store.paymentIntents,
    // Charges no longer embed their refunds (Stripe stopped expanding them in API version 2022-11-15).
    charges: store.charges.map(({ refunds: _refunds, ...charge }) => charge) as unknown as JournalEntry['charges'],
    refunds: store.refunds,
    paymentMethods: store.paymentMethods,
    paymentMethodSources: store.paymentMethodSources,
    events: store.events,
    idempotency: legacy.idempotency,
  };
}

/**
 * The simulator's state on disk, costing one append per change: a change is written as one JSON
 * line (one write() on an O_APPEND descriptor) before its answer is sent. On start the journal is
 * read and compacted: the current state is written to a new file that replaces the old one.
 * A process killed mid-write leaves a torn last line, which the next start drops. There is no
 * fsync per line: a process crash loses nothing written, a power loss may lose the last lines.
 */
export class Journal {
  private fd: number | undefined;
  private readonly onError: (error: unknown) => void;
  readonly path: string;

  private constructor(path: string, fd: number, onError: (error: unknown) => void) {
    this.path = path;
    this.fd = fd;
    this.onError = onError;
  }

  /** Writes `entries` (the whole current state) as a new journal in place of the old one, then opens it for appending. */
  static async create(path: string, entries: Iterable<JournalEntry>, onError: (error: unknown) => void): Promise<Journal> {
    const tmp = `${path}.${process.pid}.compacting`;
    const file = await open(tmp, 'w', 0o600);
    try {
      let chunk = `${JSON.stringify(HEADER)}\n`;
      for (const entry of entries) {
        chunk += `${JSON.stringify(entry)}\n`;
        if (chunk.length >= CHUNK_BYTES) {
          await file.write(chunk);
          chunk = '';
        }
      }
      await file.write(chunk);
      await file.sync();
    } catch (error) {
      await file.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await file.close();
    await rename(tmp, path);
    syncDirectory(dirname(path));
    return new Journal(path, openSync(path, 'a'), onError);
  }

  /**
   * Appends one change. Synchronous on purpose: lines land in the order the changes happened
   * (a change is itself synchronous), and a few kilobytes go to the page cache in microseconds.
   * A failed write (disk full) stops the journal rather than leave a torn line in the middle.
   */
  append(entry: JournalEntry): void {
    if (this.fd === undefined) return;
    const bytes = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written);
    } catch (error) {
      this.close();
      this.onError(error);
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Makes the rename durable (POSIX: a rename is recorded in the directory). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself has happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
