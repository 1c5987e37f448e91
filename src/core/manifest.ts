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
  readonly full: boolean;
  flush(): Promise<void>;
}

/** Write a file atomically (temp file, fsync, rename) from text handed over piece by piece. */
async function writeAtomic(path: string, fill: (out: Sink) => Promise<void>): Promise<void> {
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
  try {
    await fill(sink);
    await sink.flush();
    if (used) await fh.write(buf, 0, used);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Write a manifest atomically from its entries as they come (an iterable: they are never all in
 * memory at once). The top-level fields are indented, each entry is one line of JSON: the file
 * is written (and read) in half the time of an indented one, and a line-oriented tool sees one
 * entry per line.
 */
export async function writeManifestStream(path: string, head: Omit<Manifest, 'entries'>, entries: Iterable<ManifestEntry>): Promise<void> {
  await writeAtomic(path, async (out) => {
    const top = JSON.stringify(head, null, 2);
    out.push(top.length > 2 ? `${top.slice(0, -2)},\n  "entries": [` : '{\n  "entries": [');
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

export async function readManifest(path: string): Promise<Manifest> {
  const data = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  if (typeof data !== 'object' || data === null || !Array.isArray(data.entries) || typeof data.version !== 'number') {
    throw new Error(`${path}: not a batchup manifest (needs "version" and "entries")`);
  }
  return data;
}
