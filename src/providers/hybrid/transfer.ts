/**
 * One hybrid file's bytes: ≤ 150 MiB as one streamed presigned PUT; larger ones through the core
 * part engine (core/parts.ts): several chunks in flight, bounded by the run's memory budget,
 * sha256 computed while reading. A failed chunk asks `/progress`, and when the server lists it
 * as failed, `/retry` for fresh URLs of just the failed chunks; a 403 (expired URL) asks
 * `/retry?missing=1` (every URL of the upload expires together, so one call renews all).
 * `complete` only once every part is acknowledged (the engine refuses otherwise); a "Missing
 * parts" answer gets one repair round for exactly those parts.
 */
import { hashedFileBody } from '../../core/bodies.js';
import { BatchupError } from '../../core/errors.js';
import { sha256File } from '../../core/incremental.js';
import { planParts, sendParts, type Part } from '../../core/parts.js';
import type { ProviderContext } from '../../core/provider.js';
import { withRetry, type RetryInfo } from '../../core/retry.js';
import { type HybridApi, checkPresignedUrl, missingPartsOf, putPresigned } from './api.js';
import type { VideoRecord } from './contract.js';
import type { HybridOptions } from './options.js';
import { protocol, receivedParts, type Job, type Session } from './session.js';

/** Chunks of one file in flight. */
export const PART_CONCURRENCY = 4;

type RetryOpts = { policy: ProviderContext['retry']; signal: AbortSignal; onRetry: (info: RetryInfo) => void };

/** Send what the server does not have yet, then complete; returns the record and the file's sha256. */
export async function transferFile(
  ctx: ProviderContext<HybridOptions>,
  api: HybridApi,
  batchId: string,
  job: Job,
): Promise<{ record: VideoRecord; sha256: string }> {
  const { it } = job;
  const size = it.size!;
  const s = job.session!;
  const retryOpts = (what: string): RetryOpts => ({ policy: ctx.retry, signal: ctx.signal, onRetry: ctx.onRetry(batchId, what) });
  const book = new UrlBook(api, s, ctx.signal, retryOpts(`retry ${it.name}`));

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
  const progress = (sent: number) =>
    ctx.emit({ type: 'file-progress', batchId, source: it.source, sent, total: size, ...(already ? { resumed: already } : {}) });
  progress(already);

  let sha256: string;
  if (!s.isChunked) {
    sha256 = todo.length ? await putWhole() : await sha256File(it.path!, { size, signal: ctx.signal });
  } else {
    sha256 = (await sendChunks(todo, true, (acked) => progress(already + acked)))!;
  }
  return { record: await completeUpload(), sha256 };

  /** One streamed presigned PUT of the whole file, hashed on the way; returns its sha256. */
  async function putWhole(): Promise<string> {
    let last: { err: BatchupError; url: string } | undefined;
    let used = '';
    const opts = retryOpts(`PUT ${it.name}`);
    return withRetry(
      async () => {
        if (last) await book.refresh(0, last.url, last.err.status === 403);
        used = book.url(0);
        const body = hashedFileBody(it.path!, size, progress);
        await putPresigned(ctx.http, used, { length: size, stream: body.open() }, ctx.signal);
        return body.sha256();
      },
      {
        ...opts,
        onRetry: (info) => {
          last = { err: info.error, url: used };
          opts.onRetry(info);
        },
      },
    );
  }

  /** Chunks through the part engine; returns the whole file's sha256 when `hash`. */
  async function sendChunks(parts: Part[], hash: boolean, onProgress?: (acked: number) => void): Promise<string | undefined> {
    const usedUrl = new Map<number, string>();
    const onRetry = ctx.onRetry(batchId);
    const res = await sendParts<string>({
      path: it.path!,
      size,
      parts,
      concurrency: PART_CONCURRENCY,
      memory: ctx.memory,
      hash,
      retry: ctx.retry,
      signal: ctx.signal,
      send: (part, body, signal) => {
        const url = book.url(part.number - 1);
        usedUrl.set(part.number, url);
        return putPresigned(ctx.http, url, body, signal);
      },
      beforeRetry: (part, err) => book.refresh(part.number - 1, usedUrl.get(part.number) ?? '', err.status === 403),
      onRetry: (part, error, attempt, delayMs) =>
        onRetry({ attempt, delayMs, error: new BatchupError(error.code, `${it.name} chunk ${part.number}: ${error.message}`, { status: error.status }) }),
      onProgress,
    });
    return res.sha256;
  }

  /** complete, with one repair round when the server says parts are missing. */
  async function completeUpload(): Promise<VideoRecord> {
    const complete = () => withRetry(() => api.complete(s.uploadId, ctx.signal), retryOpts(`complete ${it.name}`));
    try {
      return await complete();
    } catch (err) {
      const missing = missingPartsOf(err);
      if (!missing?.length || !s.isChunked) throw err;
      const parts = all.filter((p) => missing.includes(p.number));
      if (parts.length !== missing.length) throw err;
      await book.fetch(true);
      await sendChunks(parts, false);
      return complete();
    }
  }
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
    private readonly retryOpts: RetryOpts,
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
