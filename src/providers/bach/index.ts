/**
 * The bach adapter (seed 000): submit a batch (multipart or Base64/URL JSON), survive lost
 * responses by looking the deterministic batch id up before any resubmission, poll the status
 * until TASK_SUCCEEDED, and map each result back to its input by `index` (ZIP images by name).
 */
import { basename } from 'node:path';
import { BatchupError } from '../../core/errors.js';
import { jsonArrayBody, multipartBody, type FileSource, type JsonItem, type StreamingBody } from '../../core/bodies.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { pollUntil } from '../../core/poll.js';
import type { BatchPlan, Provider, ProviderContext } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import { zipEntrySource } from '../../core/zip-source.js';
import type { Item } from '../../core/types.js';
import { BachApi, isBatchExists } from './api.js';
import { BachAuth } from './auth.js';
import { BACH_DEFAULT_ENDPOINT, LIMITS, STATUS, zipImageName, type StatusData } from './contract.js';
import { planBach } from './plan.js';
import { bachPolicy } from './policy.js';

const MIME: Record<string, string> = {
  jpg: 'image/jpeg', png: 'image/png', gif: 'image/gif', bmp: 'image/bmp', webp: 'image/webp',
  svg: 'image/svg+xml', ico: 'image/x-icon', tiff: 'image/tiff', zip: 'application/zip',
};

/** How long a just-submitted batch may answer 404 before we believe it. */
const NOT_FOUND_GRACE_MS = 30_000;

export const bach: Provider = {
  name: 'bach',
  defaultEndpoint: BACH_DEFAULT_ENDPOINT,
  policy: bachPolicy,
  capabilities: { urls: true, zips: true, modes: ['sync', 'async'] },
  plan: planBach,
  async prepare(ctx) {
    // Fails early (config error) when credentials are missing or a key pair is incomplete.
    await new BachAuth(ctx.auth, ctx.now).header();
  },
  runBatch,
};

async function runBatch(batch: BatchPlan, ctx: ProviderContext): Promise<ManifestEntry[]> {
  const api = new BachApi(ctx.http, ctx.endpoint, new BachAuth(ctx.auth, ctx.now));
  const startedAt = new Date(ctx.now()).toISOString();
  const files = (it: Item): FileSource => ({
    path: it.path!,
    size: it.size!,
    onProgress: (sent) => ctx.emit({ type: 'file-progress', batchId: batch.batchId, source: it.source, sent, total: it.size! }),
    onDone: (sha) => {
      it.sha256 = sha;
    },
  });
  const body = (): StreamingBody =>
    batch.mode === 'sync'
      ? multipartBody([
          ...batch.items.map((it) => ({ name: 'files', filename: it.name, contentType: MIME[it.format ?? ''] ?? 'application/octet-stream', file: files(it) })),
          ...batch.items.map((it) => ({ name: 'image_names', value: it.name })),
          { name: 'batch_id', value: batch.batchId },
        ])
      : jsonArrayBody(
          { batch_id: batch.batchId },
          'images',
          batch.items.map((it): JsonItem =>
            it.kind === 'url'
              ? { fields: { image_name: it.name, image_url: it.url! } }
              : { fields: { image_name: it.name }, base64Field: 'image_base64', file: files(it) },
          ),
        );

  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: batch.mode, files: batch.files, bytes: batch.bytes });

  // Submit. After a failure whose outcome is unknown (reset, timeout, 5xx) the batch may exist:
  // ask for it by id first and resubmit only when the server does not know it.
  let submittedAt = ctx.now();
  await withRetry(
    async (attempt) => {
      if (attempt > 0 || batch.resumed) {
        if (await api.status(batch.batchId, ctx.signal)) return;
      }
      submittedAt = ctx.now();
      try {
        await api.submit(batch.mode, body(), ctx.signal);
      } catch (err) {
        if (isBatchExists(err, batch.batchId)) return; // an earlier attempt (or run) went through
        throw err;
      }
      ctx.emit({ type: 'batch-submitted', batchId: batch.batchId, mode: batch.mode, attempt });
    },
    {
      policy: ctx.retry,
      signal: ctx.signal,
      onRetry: ({ attempt, delayMs, error }) =>
        ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: error.message, code: error.code, status: error.status }),
    },
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
    initialMs: ctx.options.pollIntervalMs,
    maxMs: ctx.options.pollMaxIntervalMs,
    timeoutMs: ctx.options.pollTimeoutMs,
    signal: ctx.signal,
    retry: ctx.retry,
    onRetry: ({ attempt, delayMs, error }) =>
      ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: error.message, code: error.code, status: error.status }),
  });

  return mapResults(batch, final, { startedAt, now: ctx.now });
}

/** Map server results back to inputs: by `index`, and for a ZIP by `<zip name>/<entry path>`. */
export function mapResults(
  batch: BatchPlan,
  status: StatusData,
  opts: { startedAt: string; now: () => number },
): ManifestEntry[] {
  const finishedMs = opts.now();
  const finishedAt = new Date(finishedMs).toISOString();
  const expiresAt = new Date(finishedMs + LIMITS.urlTtlMs).toISOString();
  const byIndex = new Map<number, StatusData['results']>();
  for (const r of status.results ?? []) {
    const list = byIndex.get(r.index) ?? [];
    list.push(r);
    byIndex.set(r.index, list);
  }
  const entries: ManifestEntry[] = [];
  batch.items.forEach((it, index) => {
    const base: ManifestEntry = {
      source: it.source,
      status: 'failed',
      provider: 'bach',
      name: it.name,
      size: it.size,
      sha256: it.sha256,
      mtimeMs: it.mtimeMs,
      format: it.format,
      batchId: batch.batchId,
      mode: batch.mode,
      index,
      startedAt: opts.startedAt,
      finishedAt,
    };
    const results = byIndex.get(index) ?? [];
    const toEntry = (e: ManifestEntry, r: StatusData['results'][number] | undefined, label: string): ManifestEntry => {
      if (!r) return { ...e, status: 'failed', code: 'PROTOCOL', error: `${label}: the server reported no result for it` };
      // We always send image_names, so a different name means the batch id was taken by other files.
      if (r.image_name !== e.name) {
        return { ...e, status: 'failed', code: 'PROTOCOL', error: `${label}: batch ${batch.batchId} on the server holds '${r.image_name}' at this position, not '${e.name}' (batch id reused for other files?)` };
      }
      if (r.status === STATUS.succeeded && r.image_url) return { ...e, status: 'uploaded', url: r.image_url, expiresAt };
      return { ...e, status: 'failed', code: 'REMOTE', error: `${label}: ${r.error_message ?? 'failed on the server'}` };
    };
    if (it.format !== 'zip') {
      entries.push(toEntry(base, results[0], basename(it.source)));
      return;
    }
    const byName = new Map(results.map((r) => [r.image_name, r]));
    for (const entry of it.zipEntries ?? []) {
      const r = byName.get(zipImageName(it.name, entry.path));
      entries.push(
        toEntry(
          { ...base, source: zipEntrySource(it.source, entry.path), name: zipImageName(it.name, entry.path), size: entry.size, sha256: undefined, format: entry.format },
          r,
          `${basename(it.source)}!/${entry.path}`,
        ),
      );
    }
  });
  return entries;
}
