/**
 * One aihub upload run: the AI Hub batch its files go to, the files (upload.ts), and the app run
 * on the batch (app-run.ts). One plan batch = one AI Hub batch; files upload in parallel
 * (`--concurrency` files at once), each settled (journaled as done) as soon as it is stored, so
 * no rerun sends it again.
 *
 * The batch a run created is kept in the state (key: endpoint, workspace, batch name): a rerun
 * with the same --batch-name and state (after a crash, a failure, or the next night's incremental
 * run) adds to — and, name by name, replaces in — that same batch, so the batch mirrors its
 * inputs. If the server no longer has it, a new one is created. A new name (or another --state)
 * starts a new batch. An app run that files were uploaded for but that never finished (the run
 * died) is owed: the next run starts it even when it has nothing left to upload.
 */
import { failedEntry, inputEntry, uploadedEntry } from '../../core/entries.js';
import { BatchupError, toBatchupError } from '../../core/errors.js';
import { isNotFound } from '../../core/http.js';
import { sha256File } from '../../core/incremental.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { mapPool } from '../../core/pool.js';
import type { BatchPlan, ProviderContext, ProviderRun } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import { AihubApi } from './api.js';
import { runApp, type RunRecord } from './app-run.js';
import { createBatch } from './ops.js';
import type { AihubOptions } from './options.js';
import { isMultipart, uploadFile } from './upload.js';

export const batchKey = (endpoint: string, workspace: string | undefined, name: string) =>
  `aihub:batch:${endpoint.replace(/\/+$/, '')}|${workspace ?? ''}|${name}`;
const appRunKey = (endpoint: string, batchId: string) => `aihub:app-run-owed:${endpoint.replace(/\/+$/, '')}|${batchId}`;

export function openAihubRun(ctx: ProviderContext<AihubOptions>): ProviderRun {
  const api = new AihubApi({ http: ctx.http, endpoint: ctx.endpoint, ibContext: ctx.options.ibContext });
  // One lookup/creation per run, even when the pipeline resumes an interrupted plan batch next to
  // a fresh one: both go to the same AI Hub batch.
  let resolving: Promise<string> | undefined;
  const serverBatch = (planId: string) => {
    resolving ??= resolveBatch(api, ctx, planId);
    resolving.catch(() => (resolving = undefined));
    return resolving;
  };
  const runs: RunRecord[] = [];
  return {
    async runBatch(batch) {
      const { entries, serverId } = await uploadBatch(batch, ctx, api, serverBatch);
      const uploaded = entries.filter((e) => e.status === 'uploaded');
      const owed = serverId !== undefined && ctx.state.get(appRunKey(ctx.endpoint, serverId)) !== undefined;
      if (ctx.options.runApp && serverId !== undefined && (uploaded.length || owed) && !ctx.signal.aborted) {
        const record = await runApp(api, serverId, ctx, batch.batchId, uploaded);
        if (record) {
          runs.push(record);
          ctx.state.put(appRunKey(ctx.endpoint, serverId), null);
        }
      }
      return entries;
    },
    finish: async () => (runs.length ? { runs } : undefined),
  };
}

async function uploadBatch(
  batch: BatchPlan,
  ctx: ProviderContext<AihubOptions>,
  api: AihubApi,
  serverBatch: (planId: string) => Promise<string>,
): Promise<{ entries: ManifestEntry[]; serverId?: string }> {
  const startedAt = new Date(ctx.now()).toISOString();
  if (!batch.items.length) return { entries: [] };
  const serverId = await serverBatch(batch.batchId);
  if (ctx.options.runApp) ctx.state.put(appRunKey(ctx.endpoint, serverId), { at: ctx.now() });

  let stop: BatchupError | undefined;
  const entries = await mapPool(batch.items, Math.max(1, ctx.run.concurrency), async (it, index) => {
    const base = inputEntry('aihub', it, { batchId: serverId, mode: isMultipart(it) ? 'multipart' : 'put', index, startedAt });
    const now = () => new Date(ctx.now()).toISOString();
    if (stop || ctx.signal.aborted) {
      return failedEntry(base, stop ?? new BatchupError('INTERRUPTED', 'interrupted before it was sent', { retryable: false }), now());
    }
    try {
      const r = await uploadFile({ api, batchId: serverId, it, ctx, onRetry: ctx.onRetry(batch.batchId, it.name) }, batch.batchId);
      const remote = {
        batch_id: serverId,
        filename: it.name,
        upload: r.upload,
        ...(r.adopted ? { adopted: true } : {}),
        ...(r.session ? { session_id: r.session.id, part_size: r.session.partSize, parts: r.parts, resumed_parts: r.resumedParts } : {}),
      };
      // Adopted: this run did not stream it, so its fingerprint comes from one read now.
      const sha256 = r.sha256 ?? (await sha256File(it.path!, { size: it.size, signal: ctx.signal }));
      it.sha256 = sha256;
      const entry = uploadedEntry(base, { sha256, url: api.fileUrl(serverId, it.name), id: `${serverId}/${it.name}`, remote }, now());
      ctx.settle(it, [entry], r.handles);
      return entry;
    } catch (raw) {
      let err = toBatchupError(raw);
      // The credentials are refused, or the batch is gone: nothing else can succeed.
      if (err.code === 'AUTH') stop ??= err;
      else if (isNotFound(err) && !stop && !(await api.getBatch(serverId, ctx.signal).then(Boolean, () => true))) {
        stop ??= new BatchupError('NOT_FOUND', `aihub batch ${serverId} no longer exists (deleted during the upload?)`, { status: 404, retryable: false });
      }
      if (stop && isNotFound(err)) err = stop;
      return failedEntry(base, err, now());
    }
  });
  if (stop?.code === 'AUTH') throw stop;
  return { entries, serverId };
}

/** `--batch-id`, else the batch this state created earlier and the server still has, else a new one. */
async function resolveBatch(api: AihubApi, ctx: ProviderContext<AihubOptions>, planId: string): Promise<string> {
  const o = ctx.options;
  const onRetry = ctx.onRetry(planId, 'create batch');
  const opts = { policy: ctx.retry, signal: ctx.signal, onRetry };
  if (o.batchId) {
    const id = o.batchId;
    const b = await withRetry(() => api.getBatch(id, ctx.signal), opts);
    if (!b) throw new BatchupError('NOT_FOUND', `aihub batch ${id} (--batch-id) does not exist, or denied access`, { status: 404, retryable: false });
    return id;
  }
  const key = batchKey(ctx.endpoint, o.workspace, o.batchName!);
  const saved = ctx.state.get<{ id: string }>(key);
  if (saved?.id && (await withRetry(() => api.getBatch(saved.id, ctx.signal), opts))) return saved.id;
  const { id } = await createBatch(api, o.batchName!, o.workspace, { signal: ctx.signal, retry: ctx.retry, onRetry, now: ctx.now });
  ctx.state.put(key, { id, name: o.batchName, workspace: o.workspace ?? null });
  return id;
}
