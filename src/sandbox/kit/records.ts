/**
 * What a protocol remembers across restarts on the same data folder: one JSON file per record,
 * all loaded at start, written atomically (temp file + rename, so a crash leaves the old or the
 * new record, never half of one), writes of one record serialised, flushed on close.
 *
 * Records are kept in memory and mutated in place by their protocol; `save(id)` writes the
 * current value. Saves of one id that pile up while a write runs share one next write (a batch
 * that gains 1,000 files is not 1,000 rewrites of itself).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `data` to `path` through a temp file and a rename. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode?: number): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, mode === undefined ? undefined : { mode });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export interface JsonRecordsOptions<T> {
  /** The record's id (unique within the store). */
  idOf(record: T): string;
  /** A parsed file becomes a record only when this accepts it. Default: any object. */
  accept?(raw: unknown): raw is T;
  /** File name (without `.json`) for an id; default its sha256, which fits any id. */
  fileNameOf?(id: string): string;
  /** Where unreadable files and failed writes are reported. */
  log?(line: string): void;
}

interface WriteQueue {
  /** The last write asked for, settled or not (never rejects). */
  tail: Promise<void>;
  /** A write not started yet: later saves of the same id join it. */
  queued?: Promise<void>;
}

export class JsonRecords<T> {
  private readonly records = new Map<string, T>();
  private readonly writes = new Map<string, WriteQueue>();

  private constructor(
    readonly dir: string,
    private readonly opts: JsonRecordsOptions<T>,
  ) {}

  /** Opens (creating) `dir` and loads every record in it. */
  static async open<T>(dir: string, opts: JsonRecordsOptions<T>): Promise<JsonRecords<T>> {
    const store = new JsonRecords<T>(dir, opts);
    await mkdir(dir, { recursive: true });
    const accept = opts.accept ?? ((raw: unknown): raw is T => !!raw && typeof raw === 'object');
    for (const name of (await readdir(dir)).sort()) {
      if (!name.endsWith('.json')) continue;
      try {
        const raw: unknown = JSON.parse(await readFile(join(dir, name), 'utf8'));
        if (accept(raw)) store.records.set(opts.idOf(raw), raw);
      } catch (err) {
        opts.log?.(`skipping unreadable record ${join(dir, name)}: ${String(err)}`);
      }
    }
    return store;
  }

  get size(): number {
    return this.records.size;
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  values(): IterableIterator<T> {
    return this.records.values();
  }

  /** Adds or replaces a record and writes it. */
  put(record: T): Promise<void> {
    const id = this.opts.idOf(record);
    this.records.set(id, record);
    return this.save(id);
  }

  /** Writes the current value of a record (after changing it in place). */
  save(id: string): Promise<void> {
    return this.sync(id);
  }

  /** Forgets a record and removes its file. */
  delete(id: string): Promise<void> {
    this.records.delete(id);
    return this.sync(id);
  }

  /** Every write asked for so far has ended. */
  async flush(): Promise<void> {
    while (this.writes.size) await Promise.allSettled([...this.writes.values()].map((q) => q.tail));
  }

  private pathOf(id: string): string {
    const name = this.opts.fileNameOf?.(id) ?? createHash('sha256').update(id).digest('hex');
    return join(this.dir, `${name}.json`);
  }

  /**
   * Makes the file of `id` match memory: what the write does (write or remove) is decided when it
   * starts, so a save that joins a queued write is covered by it, whatever came in between.
   */
  private sync(id: string): Promise<void> {
    let q = this.writes.get(id);
    if (!q) {
      q = { tail: Promise.resolve() };
      this.writes.set(id, q);
    }
    if (q.queued) return q.queued;
    const queue = q;
    const next = queue.tail.then(async () => {
      queue.queued = undefined; // a save from now on needs a write of its own
      const record = this.records.get(id);
      if (record === undefined) await unlink(this.pathOf(id)).catch(() => undefined);
      else await writeFileAtomic(this.pathOf(id), JSON.stringify(record));
    });
    queue.queued = next;
    const tail = next.catch((err) => this.opts.log?.(`writing record ${id} failed: ${String(err)}`));
    queue.tail = tail;
    void tail.then(() => {
      if (queue.tail === tail && this.writes.get(id) === queue) this.writes.delete(id);
    });
    return next;
  }
}
