/**
 * One bach batch: submit (multipart or Base64/URL JSON), survive lost responses by looking the
 * deterministic batch id up before any resubmission, poll the status until TASK_SUCCEEDED, and
 * map each result back to its input by `index` (ZIP images by name).
 */
import { basename } from 'node:path';
import { jsonArrayBody, multipartBody, type FileSource, type JsonItem, type StreamingBody } from '../../core/bodies.js';
import { failedEntry, inputEntry, uploadedEntry } from '../../core/entries.js';
import { contentTypeOf } from '../../core/media-types.js';
import { BatchupError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { pollUntil } from '../../core/poll.js';
import type { BatchPlan, ProviderContext, ProviderRun } from '../../core/provider.js';
import { pollSettings } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import { zipEntrySource } from '../../core/zip-source.js';
import { BachApi, isBatchExists } from './api.js';
import { LIMITS, STATUS, zipImageName, type StatusData } from './contract.js';

/** How long a just-submitted batch may answer 404 before we believe it. */
const NOT_FOUND_GRACE_MS = 30_000;

export function openBachRun(ctx: ProviderContext): ProviderRun {
  const api = new BachApi(ctx.http, ctx.endpoint);
  return { runBatch: (batch) => runBatch(batch, ctx, api) };
}

function body(batch: BatchPlan, ctx: ProviderContext): StreamingBody {
  const file = (it: Item): FileSource => ({
    path: it.path!,
    size: it.size!,
    onProgress: (sent) => ctx.emit({ type: 'file-progress', batchId: batch.batchId, source: it.source, sent, total: it.size! }),
    onDone: (sha) => {
      it.sha256 = sha;
    },
  });
  if (batch.mode === 'sync') {
    return multipartBody([
      ...batch.items.map((it) => ({ name: 'files', filename: it.name, contentType: contentTypeOf(it.format ?? ''), file: file(it) })),
      ...batch.items.map((it) => ({ name: 'image_names', value: it.name })),
      { name: 'batch_id', value: batch.batchId },
    ]);
  }
  return jsonArrayBody(
    { batch_id: batch.batchId },
    'images',
    batch.items.map(
      (it): JsonItem =>
        it.kind === 'url'
          ? { fields: { image_name: it.name, image_url: it.url! } }
          : { fields: { image_name: it.name }, base64Field: 'image_base64', file: file(it) },
    ),
  );
}

async function runBatch(batch: BatchPlan, ctx: ProviderContext, api: BachApi): Promise<ManifestEntry[]> {
  const startedAt = new Date(ctx.now()).toISOString();
  const onRetry = ctx.onRetry(batch.batchId);

  // Submit. After a failure whose outcome is unknown (reset, timeout, 5xx) the batch may exist:
  // ask for it by id first and resubmit only when the server does not know it.
  let submittedAt = batch.announcedAt ?? ctx.now();
  await withRetry(
    async (attempt) => {
      if (attempt > 0 || batch.resumed) {
        if (await api.status(batch.batchId, ctx.signal)) return;
      }
      submittedAt = ctx.now();
      try {
        await api.submit(batch.mode === 'sync' ? 'sync' : 'async', body(batch, ctx), ctx.signal);
      } catch (err) {
        if (isBatchExists(err, batch.batchId)) return; // an earlier attempt (or run) went through
        throw err;
      }
      ctx.emit({ type: 'batch-submitted', batchId: batch.batchId, mode: batch.mode, attempt });
    },
    { policy: ctx.retry, signal: ctx.signal, onRetry },
  );

  const final = await pollUntil<StatusData>({
    fetch: async () => {
      const s = await api.status(batch.batchId, ctx.signal);
      if (s) return s;
      // A batch another attempt is still handing over can be unknown for a moment: wait a little.
      const young = ctx.now() - submittedAt < NOT_FOUND_GRACE_MS;
      throw new BatchupError('NOT_FOUND', `bach: batch ${batch.batchId} does not exist or has expired`, { retryable: young });
    },
    done: (s) => s.status === STATUS.succeeded,
    progressKey: (s) => `${s.status}:${s.processed_count}`,
    progress: (s) => ({ done: s.processed_count, total: s.total_count }),
    onUpdate: (s) => ctx.emit({ type: 'poll', batchId: batch.batchId, status: s.status, processed: s.processed_count, total: s.total_count }),
    ...pollSettings(ctx, onRetry),
  });

  // URLs expire 30 days after the server made them, which was after it got the batch.
  return mapResults(batch, final, { startedAt, submittedAt, now: ctx.now });
}

/** Map server results back to inputs: by `index`, and for a ZIP by `<zip name>/<entry path>`. */
export function mapResults(batch: BatchPlan, status: StatusData, opts: { startedAt: string; submittedAt: number; now: () => number }): ManifestEntry[] {
  const finishedAt = new Date(opts.now()).toISOString();
  const expiresAt = new Date(opts.submittedAt + LIMITS.urlTtlMs).toISOString();
  const byIndex = new Map<number, StatusData['results']>();
  for (const r of status.results ?? []) {
    const list = byIndex.get(r.index) ?? [];
    list.push(r);
    byIndex.set(r.index, list);
  }
  const entries: ManifestEntry[] = [];
  batch.items.forEach((it, index) => {
    const base = inputEntry('bach', it, { batchId: batch.batchId, mode: batch.mode, index, startedAt: opts.startedAt });
    const results = byIndex.get(index) ?? [];
    const toEntry = (e: ManifestEntry, r: StatusData['results'][number] | undefined, label: string): ManifestEntry => {
      if (!r) return failedEntry(e, { code: 'PROTOCOL', message: 'the server reported no result for it' }, finishedAt, label);
      // We always send image_names, so a different name means the batch id was taken by other files.
      if (r.image_name !== e.name) {
        const message = `batch ${batch.batchId} on the server holds '${r.image_name}' at this position, not '${e.name}' (batch id reused for other files?)`;
        return failedEntry(e, { code: 'PROTOCOL', message }, finishedAt, label);
      }
      if (r.status === STATUS.succeeded && r.image_url) return uploadedEntry(e, { url: r.image_url, expiresAt }, finishedAt);
      return failedEntry(e, { code: 'REMOTE', message: r.error_message ?? 'failed on the server' }, finishedAt, label);
    };
    if (it.format !== 'zip') {
      entries.push(toEntry(base, results[0], basename(it.source)));
      return;
    }
    const byName = new Map(results.map((r) => [r.image_name, r]));
    for (const entry of it.zipEntries ?? []) {
      const name = zipImageName(it.name, entry.path);
      const e: ManifestEntry = { ...base, source: zipEntrySource(it.source, entry.path), name, size: entry.size, format: entry.format };
      delete e.sha256; // the ZIP's, not the image's
      entries.push(toEntry(e, byName.get(name), `${basename(it.source)}!/${entry.path}`));
    }
  });
  return entries;
}
