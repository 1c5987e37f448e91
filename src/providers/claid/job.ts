/**
 * URL lists and storage folders: one `POST /v1/image/edit/batch` per plan batch, then
 * `GET /v1/image/edit/batch/{id}` until DONE, ERROR or CANCELLED (ACCEPTED → WAITING →
 * (PAUSED) → PROCESSING on the way; PAUSED shows as waiting).
 *
 * The batch's handle goes through core's `submitOnce`: journaled before the POST (keyed by the
 * endpoint and the exact body), and again with the id the server assigned, so a rerun after a
 * crash polls that id instead of paying for the batch twice. claid has no lookup by content, so
 * the one window no client can close — the server created the batch but its answer was lost
 * (a reset, a crash mid-request) — is `resubmit`: the retry or the next run submits the batch
 * again (the server may then run it twice). A journaled id the server no longer knows (404) is
 * submitted again too.
 */
import { createHash } from 'node:crypto';
import { failedEntry, inputEntry } from '../../core/entries.js';
import { toBatchupError } from '../../core/errors.js';
import { submitOnce } from '../../core/handles.js';
import { isNotFound } from '../../core/http.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { pollUntil } from '../../core/poll.js';
import type { BatchPlan, ProviderContext } from '../../core/provider.js';
import { pollSettings } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { ClaidApi } from './api.js';
import { type BatchData, FINAL_STATUSES, STATUS, destinationOf, parseStorageUri } from './contract.js';
import { stableJson, type ClaidOptions } from './options.js';
import { batchEntries, statusWord } from './results.js';
import { noteStop, type RunState } from './run-state.js';

/** The batch request of a plan batch: URLs in input order, or one storage folder. */
export function batchBody(batch: BatchPlan, o: ClaidOptions): Record<string, unknown> {
  const first = batch.items[0]!;
  const input = first.kind === 'storage' ? { source: first.source, recursive: o.recursive } : batch.items.map((it) => it.url ?? it.source);
  return { input, operations: o.operations, ...(o.output !== undefined ? { output: o.output } : {}) };
}

/** The journal key of a batch: the endpoint and exactly what is submitted. */
export const batchKey = (endpoint: string, body: Record<string, unknown>) =>
  `claid:batch:${createHash('sha256')
    .update(`${endpoint.replace(/\/+$/, '')}\0${stableJson(body)}`)
    .digest('hex')
    .slice(0, 32)}`;

export async function runJob(batch: BatchPlan, ctx: ProviderContext<ClaidOptions>, api: ClaidApi, run: RunState): Promise<ManifestEntry[]> {
  const startedAt = new Date(ctx.now()).toISOString();
  const now = () => new Date(ctx.now()).toISOString();
  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: batch.mode, files: batch.files, bytes: batch.bytes });
  if (run.stop) throw run.stop;
  const bases = batch.items.map((it, index) => inputEntry('claid', it, { batchId: batch.batchId, mode: 'batch', index, startedAt }));
  const retry = { policy: ctx.retry, signal: ctx.signal, onRetry: ctx.onRetry(batch.batchId) };
  try {
    const folder = batch.items[0]!.kind === 'storage' ? batch.items[0]!.source : undefined;
    const missing = folder ? await missingStorage(folder, ctx, api, run) : undefined;
    if (missing) return bases.map((b) => failedEntry(b, { code: 'VALIDATION', message: missing }, now()));

    const body = batchBody(batch, ctx.options);
    const key = batchKey(ctx.endpoint, body);
    let madeAt = batch.announcedAt ?? ctx.now();
    const submit = () =>
      withRetry(
        () =>
          submitOnce({
            state: ctx.state,
            key,
            now: ctx.now,
            lostAnswer: 'resubmit',
            force: ctx.run.force,
            untilBatchDone: batch.batchId,
            submit: async () => {
              madeAt = ctx.now();
              return String((await api.submitBatch(body, ctx.signal)).id);
            },
          }),
        retry,
      );
    let { id, adopted } = await submit();
    if (!adopted) ctx.emit({ type: 'batch-submitted', batchId: batch.batchId, mode: batch.mode, attempt: 0 });
    let final: BatchData;
    try {
      final = await poll(id);
    } catch (err) {
      if (!adopted || !isNotFound(err)) throw err;
      // The id an earlier run journaled is unknown to the server now: submit the batch afresh.
      ctx.state.put(key, null);
      ({ id } = await submit());
      ctx.emit({ type: 'batch-submitted', batchId: batch.batchId, mode: batch.mode, attempt: 1 });
      final = await poll(id);
    }
    return batchEntries(batch, bases, final, { finishedAt: now(), madeAt, destination: destinationOf(ctx.options.output) });
  } catch (raw) {
    noteStop(run, toBatchupError(raw));
    throw raw;
  }

  function poll(id: string): Promise<BatchData> {
    return pollUntil<BatchData>({
      fetch: () => api.batch(id, ctx.signal),
      done: (s) => FINAL_STATUSES.includes(s.status),
      progressKey: (s) => statusWord(s.status),
      onUpdate: (s) =>
        ctx.emit({
          type: 'poll',
          batchId: batch.batchId,
          status: statusWord(s.status),
          processed: s.status === STATUS.done ? s.results.length : 0,
          total: batch.items[0]!.kind === 'storage' ? s.results.length : batch.items.length,
        }),
      ...pollSettings(ctx, retry.onRetry),
    });
  }
}

/**
 * Why a storage folder cannot be an input, when the connected storages say so (asked once per
 * run). A key without the storage scope may not list them (403): then the server judges.
 */
async function missingStorage(uri: string, ctx: ProviderContext<ClaidOptions>, api: ClaidApi, run: RunState): Promise<string | undefined> {
  const parsed = parseStorageUri(uri);
  if (!parsed) return `${uri} is not a storage://NAME/FOLDER/ URI`;
  if (!parsed.folder) return `${uri} names a file, not a folder: end it with / (a single image goes as a URL or a local file)`;
  run.storages ??= withRetry(() => api.storages(ctx.signal), { policy: ctx.retry, signal: ctx.signal });
  run.storages.catch(() => (run.storages = undefined));
  const list = await run.storages;
  if (!list || list.some((s) => s?.name === parsed.storage)) return undefined;
  const known = list.map((s) => s?.name).filter(Boolean);
  return `no storage named '${parsed.storage}' is connected to this API key (${known.length ? `connected: ${known.join(', ')}` : 'none is connected'})`;
}
