/**
 * hybrid's open uploads. Per upload, in `hybrid/uploads/<uploadId>/`: `session.json` (written at
 * init), `data` (the file being assembled: every part is streamed straight to its offset, so
 * `complete` is a rename into the content store, not a copy of gigabytes) and `parts.log` (one
 * JSON line per part PUT outcome: stored with size and CRC-32 — the part's ETag —, or failed with
 * the bytes that arrived), replayed when the sandbox starts on the same folder.
 */
import { appendFile, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ThreadHash } from '../../../core/hash-thread.js';
import { writeFileAtomic } from '../../kit/records.js';

export interface StoredPart {
  size: number;
  /** CRC-32 of the part (hex): its ETag. */
  crc32: string;
}

export interface SessionFile {
  uploadId: string;
  fileId: string;
  filename: string;
  size: number;
  type: string;
  channelId?: string;
  isChunked: boolean;
  totalChunks: number;
  chunkSize: number;
  createdAt: number;
}

export interface Upload extends SessionFile {
  dir: string;
  dataPath: string;
  parts: Map<number, StoredPart>;
  /** Part number → bytes that arrived on its last failed PUT. */
  partial: Map<number, number>;
  /** 0-based chunk indices whose last PUT failed. */
  failed: Set<number>;
  /** Part numbers with a PUT streaming right now. */
  busy: Set<number>;
  /** The running whole-file digest, on the process's hashing thread. */
  hash: ThreadHash;
  /** Leading parts folded into that digest. */
  hashedParts: number;
  dirty: boolean;
  hashing?: Promise<void>;
  /** Set by complete: the assembled file's digest, and whether it is in the store already. */
  sha256?: string;
  committed?: boolean;
  log: Promise<void>;
}

export type LogLine = { t: 'ok'; n: number; size: number; crc32: string } | { t: 'fail'; n: number; bytes: number };

/** Bytes of part `n` (1-based) of an upload. */
export const partSize = (u: SessionFile, n: number) => (u.isChunked ? Math.min(u.chunkSize, u.size - (n - 1) * u.chunkSize) : u.size);

export class Uploads {
  private readonly open = new Map<string, Upload>();

  private constructor(
    private readonly dir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** The uploads an earlier sandbox on this folder left open. */
  static async load(dir: string, log: (line: string) => void): Promise<Uploads> {
    const uploads = new Uploads(dir, log);
    await mkdir(dir, { recursive: true });
    for (const id of await readdir(dir)) {
      try {
        const s = JSON.parse(await readFile(join(dir, id, 'session.json'), 'utf8')) as SessionFile;
        const u = uploads.make(s);
        const lines = await readFile(join(u.dir, 'parts.log'), 'utf8').catch(() => '');
        for (const line of lines.split('\n')) {
          if (!line.trim()) continue;
          try {
            apply(u, JSON.parse(line) as LogLine);
          } catch {
            /* a torn last line from a crash: ignore it */
          }
        }
        u.dirty = true; // the running hash is not on disk: complete hashes the file
        uploads.open.set(u.uploadId, u);
      } catch (err) {
        log(`hybrid: skipping unreadable upload ${id}: ${String(err)}`);
      }
    }
    return uploads;
  }

  get size(): number {
    return this.open.size;
  }

  get(id: string): Upload | undefined {
    return this.open.get(id);
  }

  values(): IterableIterator<Upload> {
    return this.open.values();
  }

  /** A new upload: its folder, a sparse data file of its size (parts land at their offsets), its session file. */
  async create(s: SessionFile): Promise<Upload> {
    const u = this.make(s);
    await mkdir(u.dir, { recursive: true });
    const fh = await open(u.dataPath, 'w');
    await fh.truncate(s.size);
    await fh.close();
    await writeFileAtomic(join(u.dir, 'session.json'), JSON.stringify(s));
    this.open.set(u.uploadId, u);
    return u;
  }

  /** Takes an upload out (complete): no more PUTs, progress or verify for it. */
  take(id: string): void {
    this.open.delete(id);
  }

  /** Deletes a completed upload's folder (its data file went into the store). */
  async remove(u: Upload): Promise<void> {
    await rm(u.dir, { recursive: true, force: true });
  }

  /** Puts back an upload whose complete failed. */
  restore(u: Upload): void {
    this.open.set(u.uploadId, u);
  }

  /** A part PUT's outcome: applied now, appended to parts.log in order. */
  record(u: Upload, l: LogLine): void {
    apply(u, l);
    const next = u.log.then(() => appendFile(join(u.dir, 'parts.log'), `${JSON.stringify(l)}\n`));
    u.log = next.catch((err) => this.log(`hybrid: parts.log of ${u.uploadId}: ${String(err)}`));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.open.values()].map((u) => u.log));
    for (const u of this.open.values()) u.hash.close();
  }

  private make(s: SessionFile): Upload {
    const dir = join(this.dir, s.uploadId);
    return {
      ...s,
      dir,
      dataPath: join(dir, 'data'),
      parts: new Map(),
      partial: new Map(),
      failed: new Set(),
      busy: new Set(),
      hash: new ThreadHash(),
      hashedParts: 0,
      dirty: false,
      log: Promise.resolve(),
    };
  }
}

function apply(u: Upload, l: LogLine): void {
  if (l.t === 'ok') {
    u.parts.set(l.n, { size: l.size, crc32: l.crc32 });
    u.partial.delete(l.n);
    u.failed.delete(l.n - 1);
  } else {
    u.parts.delete(l.n);
    u.partial.set(l.n, l.bytes);
    u.failed.add(l.n - 1);
  }
}
