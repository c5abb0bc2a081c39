import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
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

export interface JournalRead {
  /** A last line without its newline: the process died while writing it (its answer was never sent). */
  tornTail: boolean;
}

/**
 * Reads a journal: a header line, then one JSON line per change, each handed to `apply` in order.
 * Also reads the single-snapshot state file of earlier versions
 * (`{"store":{"version":1,…},"idempotency":[…]}`), so an existing DATA_DIR keeps its
 * PaymentIntents. Undefined when the file does not exist yet. Read a chunk at a time: a start
 * needs the memory of the state, not of the state and the whole file's text besides (a journal
 * near the heap's limit did not load again when it was read whole).
 */
export async function readJournal(path: string, apply: (entry: JournalEntry) => void): Promise<JournalRead | undefined> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let lineNumber = 0;
  const take = (line: string): void => {
    lineNumber += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new Error(`Stripe simulator journal ${path}: line ${lineNumber} is not JSON (the file is damaged; only a torn last line is tolerated)`);
    }
    if (lineNumber > 1) return apply(parsed as JournalEntry);
    const legacy = fromLegacySnapshot(parsed);
    if (legacy) return apply(legacy);
    if (!isHeader(parsed)) throw new Error(`Stripe simulator journal ${path} is not in the expected format (${JSON.stringify(HEADER)})`);
  };
  // A character split between two chunks is held back by the decoder until its last byte is read.
  const decoder = new StringDecoder('utf8');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let rest = '';
  try {
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) break;
      // What is left of the chunks before holds no newline: only the new text is searched.
      const searched = rest.length;
      rest += decoder.write(chunk.subarray(0, bytesRead));
      let start = 0;
      for (let end = rest.indexOf('\n', searched); end >= 0; end = rest.indexOf('\n', start)) {
        take(rest.slice(start, end));
        start = end + 1;
      }
      rest = rest.slice(start);
    }
    rest += decoder.end();
  } finally {
    await file.close();
  }
  if (rest.length === 0) return { tornTail: false };
  // A header or earlier snapshot is written whole (then renamed into place), so only a later line can be torn.
  if (lineNumber > 0) return { tornTail: true };
  take(rest);
  return { tornTail: false };
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
