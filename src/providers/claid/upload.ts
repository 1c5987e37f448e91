/**
 * Local files: one synchronous `POST /v1/image/edit/upload` per file (multipart: `data` = the
 * JSON `{operations, output}`, then `file`, streamed and hashed on the way), several at once.
 * Every request waits its turn in core's pacer, which learned claid's RateLimit windows from the
 * first answer. A file is settled (journaled as done) the moment its answer arrives, so no rerun
 * edits it again; a file the server refuses (422) fails with the server's message and the others
 * go on. After a 401 or a 402 no further file is sent and the run stops (exit 5 / exit 6).
 *
 * A sync edit cannot be looked up afterwards: an answer lost after the server edited the file
 * (a reset, a crash) means the file is sent again by the retry or the next run.
 */
import { multipartBody, type StreamingBody } from '../../core/bodies.js';
import { failedEntry, inputEntry } from '../../core/entries.js';
import { BatchupError, toBatchupError } from '../../core/errors.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { mapPool } from '../../core/pool.js';
import type { BatchPlan, ProviderContext } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import type { ClaidApi } from './api.js';
import { INPUT_MEDIA } from './contract.js';
import type { ClaidOptions } from './options.js';
import { uploadEntry } from './results.js';
import { noteStop, type RunState } from './run-state.js';

/** The `data` part: the edit and where it goes (no `input`: the file is the input). */
export const dataPart = (o: ClaidOptions) => JSON.stringify({ operations: o.operations, ...(o.output !== undefined ? { output: o.output } : {}) });

function body(it: Item, data: string, batchId: string, ctx: ProviderContext<ClaidOptions>, onHash: (sha256: string) => void): StreamingBody {
  return multipartBody([
    { name: 'data', value: data },
    {
      name: 'file',
      filename: it.name,
      contentType: INPUT_MEDIA[it.format ?? '']?.mime ?? 'application/octet-stream',
      file: {
        path: it.path!,
        size: it.size!,
        onProgress: (sent) => ctx.emit({ type: 'file-progress', batchId, source: it.source, sent, total: it.size! }),
        onDone: onHash,
      },
    },
  ]);
}

export async function uploadFiles(batch: BatchPlan, ctx: ProviderContext<ClaidOptions>, api: ClaidApi, run: RunState): Promise<ManifestEntry[]> {
  const startedAt = new Date(ctx.now()).toISOString();
  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: batch.mode, files: batch.files, bytes: batch.bytes });
  const data = dataPart(ctx.options);
  const entries = await mapPool(batch.items, Math.max(1, ctx.run.concurrency), async (it, index) => {
    const base = inputEntry('claid', it, { batchId: batch.batchId, mode: 'upload', index, startedAt });
    const now = () => new Date(ctx.now()).toISOString();
    if (run.stop) return failedEntry(base, { code: run.stop.code, message: `not sent: ${run.stop.message}` }, now());
    if (ctx.signal.aborted) return failedEntry(base, new BatchupError('INTERRUPTED', 'interrupted before it was sent', { retryable: false }), now());
    try {
      let sha256: string | undefined;
      // The output is made after the request starts: its one-day lifetime counts from no earlier.
      const madeAt = ctx.now();
      const { data: answer, requestId } = await withRetry(
        () =>
          api.upload(
            body(it, data, batch.batchId, ctx, (h) => (sha256 = h)),
            ctx.signal,
          ),
        {
          policy: ctx.retry,
          signal: ctx.signal,
          onRetry: ctx.onRetry(batch.batchId, it.name),
        },
      );
      it.sha256 = sha256;
      const entry = uploadEntry({ ...base, ...(sha256 ? { sha256 } : {}) }, answer, { finishedAt: now(), madeAt, id: requestId });
      ctx.settle(it, [entry]);
      return entry;
    } catch (raw) {
      const err = toBatchupError(raw);
      noteStop(run, err);
      const entry = failedEntry(base, err, now());
      // Refused by the server for this file alone (a 422): final for this run, whatever happens to the others.
      if (!err.retryable && err.status !== undefined && err.code !== 'AUTH' && err.code !== 'QUOTA') ctx.settle(it, [entry]);
      return entry;
    }
  });
  // Stopped (here or by another batch) with files of this batch not edited: the run ends on it.
  if (run.stop && entries.some((e) => e.status !== 'uploaded')) throw run.stop;
  return entries;
}
