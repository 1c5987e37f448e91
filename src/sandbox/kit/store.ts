/**
 * Content-addressed storage on disk: `objects/ab/abcdef…` (sha256 of the bytes). Incoming bodies
 * are streamed to temp files while hashing; a temp file becomes an object only on commit, so a
 * rejected request leaves nothing behind.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Stats } from './stats.js';

export interface Ingested {
  /** Temp file path (already closed). */
  path: string;
  sha256: string;
  /** Bytes seen, including those past the limit that were not written. */
  size: number;
  overLimit: boolean;
  /** The first bytes, for sniffing a type. */
  head: Buffer;
  /** Set once the temp file became an object: nothing is left to discard. */
  committed?: boolean;
}

const HEAD_BYTES = 64;
const MEM_BYTES = 256 * 1024;

/**
 * Until a write stream drains, closes or fails. Both listeners go once either fires: a long body
 * waits for 'drain' hundreds of times, and leftover listeners pile up (and cost on every emit).
 * Plain listeners rather than an aborted `once()`: each abort made an AbortError with its stack.
 */
export function drainOrClose(ws: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      ws.off('drain', done);
      ws.off('close', done);
      ws.off('error', done);
      resolve();
    };
    ws.on('drain', done);
    ws.on('close', done);
    ws.on('error', done);
  });
}

/** Streams bytes to a temp file with a running sha256; past `limit` it only counts. */
export class TempWriter {
  size = 0;
  private readonly hash: Hash = createHash('sha256');
  private headParts: Buffer[] = [];
  private headLen = 0;
  private failed: Error | null = null;
  private finished = false;
  private result?: Ingested;

  /** Small bodies stay in memory and are written with one call: a stream per file costs more than its bytes. */
  private mem: Buffer[] | null = [];
  private memLen = 0;

  constructor(
    readonly path: string,
    readonly limit: number,
  ) {}

  private get ws(): WriteStream {
    if (!this.stream) {
      this.stream = createWriteStream(this.path);
      this.stream.on('error', (err) => {
        this.failed = err;
      });
    }
    return this.stream;
  }
  private stream?: WriteStream;

  get overLimit(): boolean {
    return this.size > this.limit;
  }

  /** Returns true when the caller should `await drained()` before writing more. */
  write(chunk: Buffer): boolean {
    if (this.failed) throw this.failed;
    this.size += chunk.length;
    if (this.size > this.limit) return false; // stop writing; keep counting
    if (this.headLen < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headLen);
      this.headParts.push(Buffer.from(part));
      this.headLen += part.length;
    }
    this.hash.update(chunk);
    if (this.mem) {
      if (this.memLen + chunk.length <= MEM_BYTES) {
        this.mem.push(chunk);
        this.memLen += chunk.length;
        return false;
      }
      const held = this.mem;
      this.mem = null;
      for (const b of held) this.ws.write(b);
    }
    return !this.ws.write(chunk);
  }

  async drained(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.stream?.writableNeedDrain) await drainOrClose(this.stream);
    if (this.failed) throw this.failed;
  }

  async finish(): Promise<Ingested> {
    if (this.finished) throw new Error('TempWriter finished twice');
    this.finished = true;
    if (this.mem) {
      // Synchronous: the thread-pool round trips of an async write cost more than a small body.
      writeFileSync(this.path, Buffer.concat(this.mem, this.memLen));
      this.mem = null;
    } else if (this.stream && !this.stream.closed) {
      this.stream.end();
      await once(this.stream, 'close').catch(() => undefined);
    }
    if (this.failed) throw this.failed;
    this.result = {
      path: this.path,
      sha256: this.hash.digest('hex'),
      size: this.size,
      overLimit: this.overLimit,
      head: Buffer.concat(this.headParts),
    };
    return this.result;
  }

  async discard(): Promise<void> {
    if (this.result?.committed) return;
    this.finished = true;
    this.mem = null;
    if (this.stream && !this.stream.closed) {
      this.stream.destroy();
      await once(this.stream, 'close').catch(() => undefined);
    }
    await unlink(this.path).catch(() => undefined);
  }
}

export class ContentStore {
  readonly objectsDir: string;
  readonly tmpDir: string;
  private readonly known = new Map<string, number>();
  /** When each object was last stored (ms): the CDN's --cdn-ttl counts from it. */
  private readonly stored = new Map<string, number>();
  private readonly prefixes = new Set<string>();

  private constructor(
    readonly dataDir: string,
    private readonly stats: Stats,
    private readonly now: () => number,
  ) {
    this.objectsDir = join(dataDir, 'objects');
    this.tmpDir = join(dataDir, 'tmp');
  }

  static async open(dataDir: string, stats: Stats, now: () => number = Date.now): Promise<ContentStore> {
    const store = new ContentStore(dataDir, stats, now);
    await rm(store.tmpDir, { recursive: true, force: true });
    await mkdir(store.tmpDir, { recursive: true });
    await mkdir(store.objectsDir, { recursive: true });
    await store.scan();
    return store;
  }

  private async scan(): Promise<void> {
    for (const prefix of await readdir(this.objectsDir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(join(this.objectsDir, prefix))) {
        if (!/^[0-9a-f]{64}$/.test(name) || !name.startsWith(prefix)) continue;
        const st = await stat(join(this.objectsDir, prefix, name));
        this.known.set(name, st.size);
        this.stored.set(name, st.mtimeMs);
        this.stats.addObject(st.size);
      }
    }
  }

  /** Unique within the temp dir, which is emptied at start: a counter is enough (no random bytes per file). */
  tempPath(): string {
    return join(this.tmpDir, `${this.tmpPrefix}-${(++this.tmpSeq).toString(36)}`);
  }
  private readonly tmpPrefix = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  private tmpSeq = 0;

  tempWriter(limit = Number.POSITIVE_INFINITY): TempWriter {
    return new TempWriter(this.tempPath(), limit);
  }

  /** Streams `source` into a temp file (see TempWriter); the caller commits or discards. */
  async ingest(source: AsyncIterable<Buffer | string>, limit = Number.POSITIVE_INFINITY): Promise<Ingested> {
    const w = this.tempWriter(limit);
    try {
      for await (const chunk of source) {
        if (w.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) await w.drained();
      }
      return await w.finish();
    } catch (err) {
      await w.discard();
      throw err;
    }
  }

  objectPath(sha256: string): string {
    return join(this.objectsDir, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return this.known.has(sha256);
  }

  sizeOf(sha256: string): number | undefined {
    return this.known.get(sha256);
  }

  storedAt(sha256: string): number | undefined {
    return this.stored.get(sha256);
  }

  /** Moves a finished temp file into the store (or drops it when the content is already there). */
  async commit(ing: Ingested): Promise<{ sha256: string; size: number; isNew: boolean }> {
    if (ing.overLimit) throw new Error('cannot commit a truncated temp file');
    this.stored.set(ing.sha256, this.now());
    if (this.known.has(ing.sha256)) {
      await unlink(ing.path).catch(() => undefined);
      ing.committed = true;
      return { sha256: ing.sha256, size: ing.size, isNew: false };
    }
    this.known.set(ing.sha256, ing.size); // claim synchronously: concurrent commits of equal content count once
    try {
      const prefix = ing.sha256.slice(0, 2);
      // Metadata-only calls, done synchronously (no thread-pool round trip per stored object).
      if (!this.prefixes.has(prefix)) {
        mkdirSync(join(this.objectsDir, prefix), { recursive: true });
        this.prefixes.add(prefix);
      }
      renameSync(ing.path, this.objectPath(ing.sha256));
      ing.committed = true;
    } catch (err) {
      this.known.delete(ing.sha256);
      throw err;
    }
    this.stats.addObject(ing.size);
    return { sha256: ing.sha256, size: ing.size, isNew: true };
  }

  async discard(pathOrIngested: string | Ingested): Promise<void> {
    const p = typeof pathOrIngested === 'string' ? pathOrIngested : pathOrIngested.path;
    await unlink(p).catch(() => undefined);
  }

  read(sha256: string): Readable {
    return createReadStream(this.objectPath(sha256));
  }
}
