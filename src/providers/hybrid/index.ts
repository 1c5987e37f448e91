/**
 * The hybrid adapter (seed 003): large videos through presigned URLs.
 *
 * Per batch (≤ 5 files, one `init`):
 * 1. files with a saved session (a run that died) ask `/verify`; an upload the server no longer
 *    knows (404) starts over; the others go into one `init`, whose sessions are checked
 *    (`presignedUrls.length === totalChunks`, totalChunks = ceil(size / chunkSize)) and saved in
 *    ctx.state (the commit point: a crash after it resumes instead of starting over);
 * 2. each file, several at once: ≤ 150 MiB as one streamed presigned PUT; larger ones through the
 *    core part engine (core/parts.ts): several chunks in flight, bounded by the run's memory
 *    budget, sha256 computed while reading. A failed chunk asks `/progress`, and when the server
 *    lists it as failed, `/retry` for fresh URLs of just the failed chunks; a 403 (expired URL)
 *    asks `/retry?missing=1` (every URL of the upload expires together, so one call renews all);
 * 3. `complete` only once every part is acknowledged (the engine refuses otherwise); a
 *    "Missing parts" answer gets one repair round for exactly those parts; the sha256 of the
 *    completed record must equal ours, or the entry fails.
 * Presigned URLs never get the token (see api.ts).
 */
import { createHash } from 'node:crypto';
import { hashedFileBody } from '../../core/bodies.js';
import { sha256File } from '../../core/incremental.js';
import { BatchupError, configError, toBatchupError, usageError } from '../../core/errors.js';
import { isNotFound } from '../../core/http.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { formatSize } from '../../core/memory.js';
import { planParts, sendParts, type Part } from '../../core/parts.js';
import { mapPool } from '../../core/pool.js';
import type { BatchPlan, Provider, ProviderContext } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import { HybridApi, checkPresignedUrl, missingPartsOf, putPresigned } from './api.js';
import { HYBRID_DEFAULT_ENDPOINT, LIMITS, VIDEO_TYPES, type UploadSession, type VerifyPart, type VideoRecord } from './contract.js';
import { planHybrid } from './plan.js';
import { hybridPolicy } from './policy.js';

/** Chunks of one file in flight. */
export const PART_CONCURRENCY = 4;
/** Files of one batch in flight (a batch holds at most 5). */
export const FILES_IN_FLIGHT = LIMITS.maxFilesPerInit;

/** What ctx.state keeps per file between init and complete (the resume record). */
export interface SavedUpload {
  uploadId: string;
  fileId: string;
  isChunked: boolean;
  totalChunks: number;
  chunkSize: number;
}

/**
 * What ctx.state keeps once a file is complete: its entry, so that when a run dies before the
 * pipeline journaled the batch's results, the resumed batch (same batch id) answers the entry
 * instead of uploading the file again. A fresh batch ignores (and overwrites) it.
 */
export interface DoneUpload {
  done: { batchId: string; entry: ManifestEntry };
}

export const hybrid: Provider = {
  name: 'hybrid',
  defaultEndpoint: HYBRID_DEFAULT_ENDPOINT,
  policy: hybridPolicy,
  capabilities: { urls: false, zips: false, modes: ['sync'] },
  flags: [{ flags: '--channel-id <id>', description: 'channel the videos go to (hybrid channel_id)', key: 'channelId', env: 'BATCHUP_HYBRID_CHANNEL_ID' }],
  plan: planHybrid,
  async prepare(ctx) {
    tokenOf(ctx);
    // Chunks are 5 MiB (unless the server names another size): a smaller budget can never send one.
    const max = ctx.options.maxMemory;
    if (max !== undefined && max < LIMITS.chunkSize) {
      throw usageError(`--max-memory ${formatSize(max)} is below the hybrid chunk size (${formatSize(LIMITS.chunkSize)}): raise it`);
    }
  },
  runBatch,
};

function tokenOf(ctx: ProviderContext): string {
  if (!ctx.auth.token) {
    throw configError('hybrid needs a bearer token: set BATCHUP_TOKEN (or --token-file, or `batchup config set token -`)');
  }
  return ctx.auth.token;
}

/** The resume key of a file: endpoint + path + size + mtime (a changed file is a new upload). */
export function stateKey(endpoint: string, it: Pick<Item, 'path' | 'source' | 'size' | 'mtimeMs'>): string {
  const fp = createHash('sha256').update(`${endpoint}\0${it.path ?? it.source}\0${it.size}\0${it.mtimeMs ?? ''}`).digest('hex');
  return `hybrid:upload:${fp.slice(0, 32)}`;
}

interface Session extends SavedUpload {
  urls: (string | undefined)[];
}

interface Job {
  it: Item;
  index: number;
  key: string;
  session?: Session;
  /** Part numbers the server already has complete (a resume). */
  received?: Set<number>;
  resumed?: boolean;
  error?: BatchupError;
  /** Completed by a run that died before its batch's results were journaled. */
  doneEntry?: ManifestEntry;
}

const protocol = (msg: string) => new BatchupError('PROTOCOL', msg, { retryable: false });

/** Check an init session against the file; throws PROTOCOL. */
export function checkSession(s: UploadSession | undefined, size: number, name: string): Session {
  if (!s || typeof s !== 'object' || typeof s.uploadId !== 'string' || !s.uploadId) {
    throw protocol(`hybrid init: no upload session for ${name}`);
  }
  const isChunked = Boolean(s.isChunked);
  const chunkSize = isChunked ? (Number.isSafeInteger(s.chunkSize) && s.chunkSize! > 0 ? s.chunkSize! : LIMITS.chunkSize) : size;
  if (isChunked && chunkSize > LIMITS.maxChunkBytes) throw protocol(`hybrid init: chunk size ${chunkSize} for ${name} is over the 2 GiB limit`);
  const expected = isChunked ? Math.ceil(size / chunkSize) : 1;
  if (s.totalChunks !== expected) {
    throw protocol(`hybrid init: totalChunks ${s.totalChunks} for ${name}, expected ${expected} (${size} bytes, chunk size ${chunkSize})`);
  }
  if (!Array.isArray(s.presignedUrls) || s.presignedUrls.length !== s.totalChunks) {
    throw protocol(`hybrid init: ${Array.isArray(s.presignedUrls) ? s.presignedUrls.length : 'no'} presigned URLs for ${s.totalChunks} chunks of ${name}`);
  }
  return {
    uploadId: s.uploadId,
    fileId: String(s.fileId ?? ''),
    isChunked,
    totalChunks: s.totalChunks,
    chunkSize,
    urls: s.presignedUrls.map((u) => checkPresignedUrl(u)),
  };
}

function isSaved(v: unknown): v is SavedUpload {
  const s = v as SavedUpload | undefined;
  return !!s && typeof s.uploadId === 'string' && !!s.uploadId && typeof s.isChunked === 'boolean' &&
    Number.isSafeInteger(s.totalChunks) && s.totalChunks > 0 && Number.isSafeInteger(s.chunkSize) && s.chunkSize > 0;
}

/** Size of part `n` (1-based) of a session. */
const partSize = (s: SavedUpload, size: number, n: number) => (s.isChunked ? Math.min(s.chunkSize, size - (n - 1) * s.chunkSize) : size);

async function runBatch(batch: BatchPlan, ctx: ProviderContext): Promise<ManifestEntry[]> {
  const api = new HybridApi(ctx.http, ctx.endpoint, tokenOf(ctx));
  const budget = ctx.memory;
  const startedAt = new Date(ctx.now()).toISOString();
  const channelId = ctx.options.providerOptions?.channelId;
  const retryOpts = (what: string) => ({
    policy: ctx.retry,
    signal: ctx.signal,
    onRetry: ({ attempt, delayMs, error }: { attempt: number; delayMs: number; error: BatchupError }) =>
      ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: `${what}: ${error.message}`, code: error.code }),
  });

  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: 'sync', files: batch.files, bytes: batch.bytes });

  const jobs: Job[] = batch.items.map((it, index) => ({ it, index, key: stateKey(ctx.endpoint, it) }));

  // 1. Sessions a previous run left: ask the server what it has.
  for (const job of jobs) {
    const stored = ctx.state.get<Partial<SavedUpload & DoneUpload>>(job.key);
    if (stored?.done) {
      if (batch.resumed && stored.done.batchId === batch.batchId) job.doneEntry = stored.done.entry;
      continue;
    }
    if (!isSaved(stored)) continue;
    const saved = stored;
    const parts = await withRetry(() => api.verify(saved.uploadId, ctx.signal), retryOpts(`verify ${job.it.name}`));
    if (!parts) {
      ctx.state.put(job.key, null); // the server forgot it (expired, completed): start over
      continue;
    }
    job.session = { ...saved, urls: new Array<string | undefined>(saved.totalChunks) };
    job.received = receivedParts(parts, saved, job.it.size!);
    job.resumed = true;
  }

  // 2. One init for the rest.
  const fresh = jobs.filter((j) => !j.session && !j.doneEntry);
  if (fresh.length) {
    const sessions = await withRetry(
      () =>
        api.init(
          {
            ...(typeof channelId === 'string' && channelId ? { channel_id: channelId } : {}),
            files: fresh.map((j) => ({ filename: j.it.name, size: j.it.size!, type: VIDEO_TYPES[j.it.format ?? ''] ?? 'video/mp4' })),
          },
          ctx.signal,
        ),
      retryOpts('init'),
    );
    if (sessions.length !== fresh.length) throw protocol(`hybrid init: ${sessions.length} sessions for ${fresh.length} files`);
    fresh.forEach((j, i) => {
      try {
        j.session = checkSession(sessions[i], j.it.size!, j.it.name);
        const { urls: _urls, ...saved } = j.session;
        ctx.state.put(j.key, saved satisfies SavedUpload);
      } catch (err) {
        j.error = toBatchupError(err);
      }
    });
  }

  // 3. The files, several at once.
  return mapPool(jobs, FILES_IN_FLIGHT, (job) => uploadFile(job));

  async function uploadFile(job: Job): Promise<ManifestEntry> {
    const { it } = job;
    const size = it.size!;
    const base: ManifestEntry = {
      source: it.source,
      status: 'failed',
      provider: 'hybrid',
      name: it.name,
      size,
      mtimeMs: it.mtimeMs,
      format: it.format,
      batchId: batch.batchId,
      mode: 'sync',
      index: job.index,
      startedAt,
    };
    const failed = (err: BatchupError, sha256?: string): ManifestEntry => ({
      ...base,
      sha256,
      code: err.code,
      error: `${it.source}: ${err.message}`,
      finishedAt: new Date(ctx.now()).toISOString(),
    });
    if (job.doneEntry) return job.doneEntry;
    if (job.error) return failed(job.error);
    const s = job.session!;
    const progress = (sent: number) => ctx.emit({ type: 'file-progress', batchId: batch.batchId, source: it.source, sent, total: size });
    const book = new UrlBook(api, s, ctx.signal, retryOpts(`retry ${it.name}`));
    try {
      let received = job.received ?? new Set<number>();
      const all: Part[] = s.isChunked ? planParts(size, s.chunkSize) : [{ number: 1, offset: 0, size }];
      let todo = all.filter((p) => !received.has(p.number));
      if (job.resumed && todo.length) {
        await book.fetch(true);
        // A chunk the dead run was still sending can complete between /verify and /retry: the
        // server then gives it no URL. Ask /verify again; parts never become missing again.
        if (todo.some((p) => !s.urls[p.number - 1])) {
          const parts = await withRetry(() => api.verify(s.uploadId, ctx.signal), retryOpts(`verify ${it.name}`));
          received = receivedParts(parts ?? [], s, size);
          todo = all.filter((p) => !received.has(p.number));
        }
        for (const p of todo) book.url(p.number - 1); // every missing chunk must have a URL now
      }
      const already = all.filter((p) => received.has(p.number)).reduce((n, p) => n + p.size, 0);
      progress(already);

      let sha256: string;
      if (!s.isChunked) {
        sha256 = todo.length ? await putWhole(job, book, progress) : await sha256File(it.path!, { size, signal: ctx.signal });
      } else {
        sha256 = (await sendChunks(job, book, todo, true, (acked) => progress(already + acked)))!;
      }

      const record = await completeUpload(job, book, all);
      const url = typeof record.video_path === 'string' && record.video_path ? absolute(record.video_path, ctx.endpoint) : undefined;
      const done: ManifestEntry = {
        ...base,
        sha256,
        finishedAt: new Date(ctx.now()).toISOString(),
        id: record.id !== undefined ? String(record.id) : undefined,
        url,
        remote: record as Record<string, unknown>,
      };
      const entry: ManifestEntry =
        typeof record.sha256 === 'string' && record.sha256.toLowerCase() !== sha256
          ? {
              ...done,
              status: 'failed',
              url: undefined,
              code: 'REMOTE',
              error: `${it.source}: integrity check failed: sent sha256 ${sha256}, the server assembled ${record.sha256}`,
            }
          : { ...done, status: 'uploaded' };
      if (entry.status === 'uploaded') it.sha256 = sha256; // the journal's fingerprint of the file
      ctx.state.put(job.key, { done: { batchId: batch.batchId, entry } } satisfies DoneUpload, { untilBatchDone: batch.batchId });
      return entry;
    } catch (raw) {
      const err = toBatchupError(raw);
      // A rejected token stops the run (the pipeline aborts the other batches).
      if (err.code === 'AUTH' && err.status === 401) throw err;
      if (isNotFound(err)) ctx.state.put(job.key, null);
      return failed(err);
    }
  }

  /** One streamed presigned PUT of the whole file, hashed on the way; returns its sha256. */
  async function putWhole(job: Job, book: UrlBook, progress: (sent: number) => void): Promise<string> {
    const { it } = job;
    const size = it.size!;
    let last: { err: BatchupError; url: string } | undefined;
    let used = '';
    return withRetry(
      async () => {
        if (last) await book.refresh(0, last.url, last.err.status === 403);
        used = book.url(0);
        const body = hashedFileBody(it.path!, size, progress);
        await putPresigned(ctx.http, used, { length: size, stream: body.open() }, ctx.signal);
        return body.sha256();
      },
      {
        ...retryOpts(`PUT ${it.name}`),
        onRetry: ({ attempt, delayMs, error }) => {
          last = { err: error, url: used };
          ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: `PUT ${it.name}: ${error.message}`, code: error.code });
        },
      },
    );
  }

  /** Chunks through the part engine; returns the whole file's sha256 when `hash`. */
  async function sendChunks(job: Job, book: UrlBook, parts: Part[], hash: boolean, onProgress?: (acked: number) => void): Promise<string | undefined> {
    const { it } = job;
    const usedUrl = new Map<number, string>();
    const res = await sendParts<string>({
      path: it.path!,
      size: it.size!,
      parts,
      concurrency: PART_CONCURRENCY,
      memory: budget,
      hash,
      retry: ctx.retry,
      signal: ctx.signal,
      send: (part, body, signal) => {
        const url = book.url(part.number - 1);
        usedUrl.set(part.number, url);
        return putPresigned(ctx.http, url, body, signal);
      },
      beforeRetry: (part, err) => book.refresh(part.number - 1, usedUrl.get(part.number) ?? '', err.status === 403),
      onRetry: (part, err, attempt, delayMs) =>
        ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: `${it.name} chunk ${part.number}: ${err.message}`, code: err.code }),
      onProgress,
    });
    return res.sha256;
  }

  /** complete, with one repair round when the server says parts are missing. */
  async function completeUpload(job: Job, book: UrlBook, all: Part[]): Promise<VideoRecord> {
    const s = job.session!;
    const complete = () => withRetry(() => api.complete(s.uploadId, ctx.signal), retryOpts(`complete ${job.it.name}`));
    try {
      return await complete();
    } catch (err) {
      const missing = missingPartsOf(err);
      if (!missing?.length || !s.isChunked) throw err;
      const parts = all.filter((p) => missing.includes(p.number));
      if (parts.length !== missing.length) throw err;
      await book.fetch(true);
      await sendChunks(job, book, parts, false);
      return complete();
    }
  }
}

/** Part numbers the server has whole (right size, complete). */
function receivedParts(parts: VerifyPart[], s: SavedUpload, size: number): Set<number> {
  const out = new Set<number>();
  for (const p of parts) {
    const n = Number(p?.partNumber);
    if (!Number.isInteger(n) || n < 1 || n > s.totalChunks) continue;
    if (p.isComplete === false || Number(p.size) !== partSize(s, size, n)) continue;
    out.add(n);
  }
  return out;
}

/**
 * The presigned URLs of one upload, renewed on demand. Concurrent failures share one renewal:
 * a part whose URL was already replaced since it failed just takes the new one.
 */
class UrlBook {
  private refreshing?: Promise<void>;

  constructor(
    private readonly api: HybridApi,
    private readonly s: Session,
    private readonly signal: AbortSignal | undefined,
    private readonly retryOpts: Parameters<typeof withRetry>[1],
  ) {}

  url(chunkIndex: number): string {
    const u = this.s.urls[chunkIndex];
    if (!u) throw protocol(`hybrid: the server gave no presigned URL for chunk ${chunkIndex} of upload ${this.s.uploadId}`);
    return u;
  }

  /** `/retry` (failed chunks) or `/retry?missing=1` (every chunk not yet received). */
  async fetch(missing: boolean): Promise<void> {
    const fresh = await withRetry(() => this.api.retry(this.s.uploadId, missing, this.signal), this.retryOpts);
    for (const f of fresh) {
      const i = Number(f?.chunkIndex);
      if (!Number.isInteger(i) || i < 0 || i >= this.s.totalChunks) throw protocol(`hybrid retry: chunk index ${String(f?.chunkIndex)} out of range`);
      this.s.urls[i] = checkPresignedUrl(f.url);
    }
  }

  /** After chunk `i` failed on `usedUrl`: get it a fresh URL if the server wants one. */
  async refresh(i: number, usedUrl: string, expired: boolean): Promise<void> {
    if (this.refreshing) await this.refreshing.catch(() => undefined);
    if (this.s.urls[i] !== usedUrl) return;
    const p = (async () => {
      if (expired) return this.fetch(true);
      const prog = await withRetry(() => this.api.progress(this.s.uploadId, this.signal), this.retryOpts);
      // Only a chunk the server saw fail gets a new URL; otherwise the old one is still good.
      if (Array.isArray(prog.failedChunks) && prog.failedChunks.includes(i)) await this.fetch(false);
    })();
    this.refreshing = p;
    try {
      await p;
    } finally {
      if (this.refreshing === p) this.refreshing = undefined;
    }
  }
}

function absolute(path: string, endpoint: string): string {
  try {
    return new URL(path, endpoint).href;
  } catch {
    return path;
  }
}
