/**
 * The manifest: one JSON document of results, written atomically (temp file + fsync + rename) so
 * a reader — or a crash — never sees half of it; written entry by entry (writeManifestStream). Schema documented in the README; bump
 * MANIFEST_VERSION on any incompatible change.
 */
import { mkdir, open, rename, readFile, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import type { RejectRule } from './types.js';

export const MANIFEST_VERSION = 1;

export type EntryStatus = 'uploaded' | 'skipped' | 'rejected' | 'failed';

/** What a run did, in counts (the manifest's `summary`, and the `summary` event). */
export interface RunSummary {
  uploaded: number;
  skipped: number;
  rejected: number;
  failed: number;
  /** Outputs --download could not save (their entries are done on the server). */
  downloadFailures?: number;
  /** Bytes of file content sent (not counting encoding overhead). */
  bytes: number;
  durationMs: number;
  manifestPath?: string;
  interrupted: boolean;
  dryRun: boolean;
}

export interface ManifestEntry {
  /** Absolute path or URL as scanned; a ZIP entry is `<zip path>!/<entry path>`. */
  source: string;
  status: EntryStatus;
  /** CDN URL when uploaded (or carried forward when skipped). */
  url?: string;
  /** A sentence naming the file and the rule or server error, when rejected or failed. */
  error?: string;
  /** Stable rule id when rejected (see RejectRule). */
  rule?: RejectRule;
  /** Stable error code when failed (see BatchupError codes). */
  code?: string;
  provider: string;
  /** Remote name (bach image_name). */
  name?: string;
  size?: number;
  sha256?: string;
  mtimeMs?: number;
  format?: string;
  batchId?: string;
  /** The upload path taken (bach `sync`/`async`; hybrid `put`/`chunked`; aihub `put`/`multipart`; …). */
  mode?: string;
  /** Zero-based position in the batch's `files`/`images` array. */
  index?: number;
  /** ISO-8601 times. */
  startedAt?: string;
  finishedAt?: string;
  /** When `url` stops working (ISO-8601). */
  expiresAt?: string;
  /** The provider's id for what was created (video id, remote file name, …). */
  id?: string;
  /** The provider's own record of it (e.g. hybrid's video record), as returned. */
  remote?: Record<string, unknown>;
  /** An interrupted input: bytes of it this run sent before it stopped. */
  bytesSent?: number;
  /** With --download: where the output was saved (absolute path), its sha256 and size. */
  download?: { path: string; sha256: string; size: number };
}

export interface Manifest {
  version: number;
  tool: 'batchup';
  provider: string;
  endpoint?: string;
  createdAt: string;
  updatedAt: string;
  summary?: Omit<RunSummary, 'manifestPath'>;
  entries: ManifestEntry[];
  /** Provider extras from ProviderRun.finish, e.g. aihub's `runs` (the app runs on the uploaded batch). */
  [extra: string]: unknown;
}

/** Write JSON atomically: a crash leaves either the old file or the new one, never a mix. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeAtomic(path, async (out) => out.push(`${JSON.stringify(value, null, 2)}\n`));
}

/** Bytes gathered before a write (fewer, larger writes). */
const WRITE_CHUNK = 1 << 20;

/** Text handed over piece by piece, encoded into a reused buffer; `flush()` when `full`. */
interface Sink {
  push(text: string): void;
  /** Bytes `start`–`end` of `from`, written at once after what was pushed (`from` may be reused when it resolves). */
  write(from: Buffer, start: number, end: number): Promise<void>;
  readonly full: boolean;
  flush(): Promise<void>;
}

/** A file written under a temporary name, on its way to disk: `commit` waits for it there and renames it into place. */
export interface Staged {
  commit(): Promise<void>;
}

/** Write a file atomically (temp file, fsync, rename) from text handed over piece by piece. */
async function writeAtomic(path: string, fill: (out: Sink) => Promise<void>): Promise<void> {
  await (await stageAtomic(path, fill)).commit();
}

/** writeAtomic up to the fsync, which runs while the caller goes on (a rerun emits its events meanwhile). */
async function stageAtomic(path: string, fill: (out: Sink) => Promise<void>): Promise<Staged> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  let buf = Buffer.allocUnsafe(WRITE_CHUNK);
  let used = 0;
  let waiting: string[] = []; // text too long for the room left
  const sink: Sink = {
    push(text) {
      // At most 3 bytes a UTF-16 unit in UTF-8.
      if (!waiting.length && used + text.length * 3 <= buf.length) used += buf.write(text, used);
      else waiting.push(text);
    },
    async write(from, start, end) {
      await sink.flush();
      if (used) await fh.write(buf, 0, used);
      used = 0;
      if (end > start) await fh.write(from, start, end - start);
    },
    get full() {
      return used >= WRITE_CHUNK / 2 || waiting.length > 0;
    },
    async flush() {
      if (used) await fh.write(buf, 0, used);
      used = 0;
      const rest = waiting;
      waiting = [];
      for (const text of rest) {
        const bytes = Buffer.byteLength(text);
        if (bytes > buf.length) buf = Buffer.allocUnsafe(bytes);
        if (used + bytes > buf.length) {
          await fh.write(buf, 0, used);
          used = 0;
        }
        used += buf.write(text, used);
      }
    },
  };
  const fail = async (err: unknown) => {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  };
  let synced: Promise<void>;
  try {
    await fill(sink);
    await sink.flush();
    if (used) await fh.write(buf, 0, used);
    synced = fh.sync();
    synced.catch(() => {}); // seen by commit
  } catch (err) {
    return fail(err);
  }
  return {
    async commit() {
      await synced.catch(fail);
      await fh.close();
      await rename(tmp, path).catch(async (err: unknown) => {
        await unlink(tmp).catch(() => {});
        throw err;
      });
    },
  };
}

/** The manifest's top-level fields: what a run did (its summary, without the manifest's own path) and the provider's extras. */
export function manifestHead(o: {
  provider: string;
  endpoint: string;
  createdAt: string;
  updatedAt: string;
  summary: RunSummary;
  /** Which shard this is, in every write (a merge tells a missing shard by it). */
  shard?: { index: number; total: number };
  extra?: Record<string, unknown>;
}): Omit<Manifest, 'entries'> {
  const { manifestPath: _p, ...summary } = o.summary;
  return {
    version: MANIFEST_VERSION,
    tool: 'batchup',
    provider: o.provider,
    endpoint: o.endpoint,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    summary,
    ...(o.shard ? { shard: { index: o.shard.index, total: o.shard.total } } : {}),
    ...o.extra,
  };
}

/** A run's summary from its counts by status, in the manifest's field order. */
export function runSummary(counts: Record<EntryStatus, number>, o: Omit<RunSummary, EntryStatus>): RunSummary {
  return {
    ...counts,
    ...(o.downloadFailures ? { downloadFailures: o.downloadFailures } : {}),
    bytes: o.bytes,
    durationMs: o.durationMs,
    manifestPath: o.manifestPath,
    interrupted: o.interrupted,
    dryRun: o.dryRun,
  };
}

/** The text before the first entry: the top-level fields indented, then the entries' array opened. */
const ENTRIES = '  "entries": [';
function headText(head: Omit<Manifest, 'entries'>): string {
  const top = JSON.stringify(head, null, 2);
  return top.length > 2 ? `${top.slice(0, -2)},\n${ENTRIES}` : `{\n${ENTRIES}`;
}

/**
 * Write a manifest atomically from its entries as they come (an iterable: they are never all in
 * memory at once). The top-level fields are indented, each entry is one line of JSON: the file
 * is written (and read) in half the time of an indented one, and a line-oriented tool sees one
 * entry per line.
 */
export async function writeManifestStream(path: string, head: Omit<Manifest, 'entries'>, entries: Iterable<ManifestEntry>): Promise<void> {
  await writeAtomic(path, async (out) => {
    out.push(headText(head));
    let first = true;
    for (const e of entries) {
      out.push(first ? '\n    ' : ',\n    ');
      out.push(JSON.stringify(e));
      first = false;
      if (out.full) await out.flush();
    }
    out.push(first ? ']\n}\n' : '\n  ]\n}\n');
  });
}

/**
 * Changes entries as they are copied: `chunk` is handed whole entry lines (`start`–`end` of
 * `buf`) and rewrites them in place, returning where they now end; `end` is told the copy is
 * complete. Either throws to give up.
 */
export interface EntryRewrite {
  chunk(buf: Buffer, start: number, end: number): number;
  end(): void;
}

const READ_CHUNK = 1 << 20;
const ENTRIES_AT = Buffer.from(`\n${ENTRIES}`);

/**
 * Stage a manifest (see stageAtomic) with a new head and the entries of the manifest at `from` (as
 * writeManifestStream wrote it) copied as bytes — never parsed: 100,000 entries cost a copy,
 * not 100,000 objects — through `rewrite` when given. Throws (leaving `path` as it was) when
 * `from` is not laid out as a manifest or `rewrite` gives up.
 */
export async function copyManifest(path: string, head: Omit<Manifest, 'entries'>, from: string, rewrite?: EntryRewrite): Promise<Staged> {
  const input = await open(from, 'r');
  try {
    return await stageAtomic(path, async (out) => {
      // One buffer, reused: a partial last line moves to its start before the next read.
      let buf = Buffer.allocUnsafe(READ_CHUNK);
      let have = 0;
      let body = false; // past the head
      for (;;) {
        if (have === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]); // a line longer than the buffer
        const { bytesRead } = await input.read(buf, have, buf.length - have, null);
        have += bytesRead;
        let start = 0;
        if (!body) {
          const at = buf.subarray(0, have).indexOf(ENTRIES_AT);
          if (at < 0 && !bytesRead) throw new Error(`${from}: no entries where a manifest has them`);
          if (at < 0) continue;
          body = true;
          out.push(headText(head));
          start = at + ENTRIES_AT.length;
        }
        // Whole lines only through `rewrite`.
        const end = bytesRead && rewrite ? buf.lastIndexOf(10, have - 1) + 1 : have;
        if (end > start) await out.write(buf, start, rewrite ? rewrite.chunk(buf, start, end) : end);
        buf.copyWithin(0, Math.max(start, end), have);
        have -= Math.max(start, end);
        if (!bytesRead) break;
      }
      if (have) throw new Error(`${from}: does not end as a manifest does`);
      rewrite?.end();
    });
  } finally {
    await input.close();
  }
}

export async function readManifest(path: string): Promise<Manifest> {
  const data = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  if (typeof data !== 'object' || data === null || !Array.isArray(data.entries) || typeof data.version !== 'number') {
    throw new Error(`${path}: not a batchup manifest (needs "version" and "entries")`);
  }
  return data;
}
