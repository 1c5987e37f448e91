/**
 * One hybrid batch (≤ 5 files, one `init`), and the handles that make it resumable:
 *
 * 1. A file's upload handle (`{uploadId, chunk size…}`, keyed by endpoint + path + size + mtime,
 *    not by batch) is journaled right after `init` answers. A rerun that finds one asks `/verify`
 *    and sends only the missing chunks. When `/verify` no longer knows the upload, the dead run
 *    may have completed it (after complete the keys are gone): `complete` is asked once more
 *    (ASSUMED in contract.ts: a repeated complete answers the same record) and its record
 *    adopted; only an upload the server does not know at all starts over.
 * 2. The files without a handle go into one `init`, whose sessions are checked
 *    (`presignedUrls.length === totalChunks`, totalChunks = ceil(size / chunkSize)).
 * 3. Each file, several at once (transfer.ts). A completed file is settled at once (journaled as
 *    done, its handle dropped in the same commit), so no rerun uploads it again, whatever batch
 *    it would land in.
 */
import { createHash } from 'node:crypto';
import { failedEntry, inputEntry, uploadedEntry } from '../../core/entries.js';
import { toBatchupError } from '../../core/errors.js';
import { isNotFound } from '../../core/http.js';
import { sha256File } from '../../core/incremental.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { mapPool } from '../../core/pool.js';
import type { BatchPlan, ProviderContext, ProviderRun } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import { HybridApi } from './api.js';
import { LIMITS, VIDEO_TYPES, type VideoRecord } from './contract.js';
import type { HybridOptions } from './options.js';
import { fileMode } from './plan.js';
import { checkSession, isSaved, protocol, receivedParts, type Job, type SavedUpload } from './session.js';
import { transferFile } from './transfer.js';

/** Files of one batch in flight (a batch holds at most 5). */
export const FILES_IN_FLIGHT = LIMITS.maxFilesPerInit;

/** The resume key of a file: endpoint + path + size + mtime (a changed file is a new upload). */
export function stateKey(endpoint: string, it: Pick<Item, 'path' | 'source' | 'size' | 'mtimeMs'>): string {
  const fp = createHash('sha256')
    .update(`${endpoint}\0${it.path ?? it.source}\0${it.size}\0${it.mtimeMs ?? ''}`)
    .digest('hex');
  return `hybrid:upload:${fp.slice(0, 32)}`;
}

export function openHybridRun(ctx: ProviderContext<HybridOptions>): ProviderRun {
  const api = new HybridApi(ctx.http, ctx.endpoint);
  return { runBatch: (batch) => runBatch(batch, ctx, api) };
}

async function runBatch(batch: BatchPlan, ctx: ProviderContext<HybridOptions>, api: HybridApi): Promise<ManifestEntry[]> {
  const startedAt = new Date(ctx.now()).toISOString();
  const retryOpts = (what: string) => ({ policy: ctx.retry, signal: ctx.signal, onRetry: ctx.onRetry(batch.batchId, what) });

  const jobs: Job[] = batch.items.map((it, index) => ({ it, index, key: stateKey(ctx.endpoint, it) }));

  // 1. Handles a previous run left: ask the server what it has.
  for (const job of jobs) {
    const saved = ctx.state.get<unknown>(job.key);
    if (!isSaved(saved)) continue;
    const parts = await withRetry(() => api.verify(saved.uploadId, ctx.signal), retryOpts(`verify ${job.it.name}`));
    if (parts) {
      job.session = { ...saved, urls: new Array<string | undefined>(saved.totalChunks) };
      job.received = receivedParts(parts, saved, job.it.size!);
      job.resumed = true;
      continue;
    }
    const record = await withRetry(() => api.complete(saved.uploadId, ctx.signal), retryOpts(`complete ${job.it.name}`)).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (record) job.adopted = record;
    else ctx.state.put(job.key, null); // the server forgot it (expired): start over
  }

  // 2. One init for the rest.
  const fresh = jobs.filter((j) => !j.session && !j.adopted);
  if (fresh.length) {
    const channelId = ctx.options.channelId;
    const sessions = await withRetry(
      () =>
        api.init(
          {
            ...(channelId ? { channel_id: channelId } : {}),
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
  return mapPool(jobs, FILES_IN_FLIGHT, async (job) => {
    const { it } = job;
    const base = inputEntry('hybrid', it, { batchId: batch.batchId, mode: fileMode(it), index: job.index, startedAt });
    const now = () => new Date(ctx.now()).toISOString();
    if (job.error) return failedEntry(base, job.error, now());
    try {
      // An adopted upload was not streamed by this run: read the file once for its fingerprint and the integrity check.
      const { record, sha256 } = job.adopted
        ? { record: job.adopted, sha256: await sha256File(it.path!, { size: it.size, signal: ctx.signal }) }
        : await transferFile(ctx, api, batch.batchId, job);
      const entry = entryOf(base, record, sha256, ctx.endpoint, now());
      if (entry.status === 'uploaded') {
        it.sha256 = sha256; // the journal's fingerprint of the file
        ctx.settle(it, [entry], [job.key]);
      }
      return entry;
    } catch (raw) {
      const err = toBatchupError(raw);
      // A rejected token stops the run (the pipeline aborts the other batches).
      if (err.code === 'AUTH' && err.status === 401) throw err;
      if (isNotFound(err)) ctx.state.put(job.key, null);
      return failedEntry(base, err, now());
    }
  });
}

/** The entry for a completed upload; its sha256 must be the record's (when both are known). */
function entryOf(base: ManifestEntry, record: VideoRecord, sha256: string, endpoint: string, finishedAt: string): ManifestEntry {
  const url = typeof record.video_path === 'string' && record.video_path ? absolute(record.video_path, endpoint) : undefined;
  const remoteSha = typeof record.sha256 === 'string' ? record.sha256.toLowerCase() : undefined;
  const done = { id: record.id !== undefined ? String(record.id) : undefined, url, remote: record as Record<string, unknown>, sha256 };
  if (remoteSha && remoteSha !== sha256) {
    const message = `integrity check failed: sent sha256 ${sha256}, the server assembled ${remoteSha}`;
    return failedEntry({ ...base, ...done, url: undefined }, { code: 'REMOTE', message }, finishedAt);
  }
  return uploadedEntry(base, done, finishedAt);
}

function absolute(path: string, endpoint: string): string {
  try {
    return new URL(path, endpoint).href;
  } catch {
    return path;
  }
}
