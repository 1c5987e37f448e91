/**
 * An app run on the uploaded batch (`--run-app`): start it, wait for it, page through its
 * results; each uploaded file's entry gets its documents (`remote.run`), and the run's record
 * goes to the manifest's `runs` (and to `--results FILE`).
 */
import { resolve } from 'node:path';
import { toBatchupError } from '../../core/errors.js';
import { writeJsonAtomic, type ManifestEntry } from '../../core/manifest.js';
import type { ProviderContext } from '../../core/provider.js';
import type { AihubApi } from './api.js';
import { appRef, type RunFileResult, type RunInfo } from './contract.js';
import { allResults, startRun, waitForRun } from './ops.js';
import type { AihubOptions } from './options.js';

export interface RunRecord {
  id: string;
  app: string;
  batchId: string;
  status: string;
  msg?: string | null;
  startedAt: string;
  finishedAt: string;
  files: number;
  /** Pages of results read (file_offset paging). */
  pages: number;
  resultsFile?: string;
  results: RunFileResult[];
}

export async function runApp(
  api: AihubApi,
  batchId: string,
  ctx: ProviderContext<AihubOptions>,
  planId: string,
  uploaded: ManifestEntry[],
): Promise<RunRecord | undefined> {
  const s = ctx.options;
  const onRetry = (what: string) => ctx.onRetry(planId, what);
  const started = ctx.now();
  const numeric = /^\d+$/.test(batchId) ? Number(batchId) : batchId;
  const emitRun = (r: RunInfo) =>
    ctx.emit({
      type: 'poll',
      batchId: planId,
      status: `run ${r.id} ${r.status}`,
      processed: r.progress?.completed ?? 0,
      total: r.progress?.total ?? uploaded.length,
    });
  let run: RunInfo;
  let final: RunInfo;
  let results: { files: RunFileResult[]; pages: number };
  try {
    run = await startRun(api, { ...appRef(s.runApp!), batch_id: numeric }, { signal: ctx.signal, retry: ctx.retry, onRetry: onRetry('start run') });
    emitRun(run);
    final = await waitForRun(api, run.id, {
      signal: ctx.signal,
      retry: ctx.retry,
      intervalMs: ctx.run.poll.initialMs,
      maxMs: ctx.run.poll.maxMs,
      timeoutMs: ctx.run.poll.timeoutMs,
      onUpdate: emitRun,
      onRetry: onRetry(`run ${run.id}`),
    });
    results =
      final.status === 'COMPLETE'
        ? await allResults(api, run.id, { signal: ctx.signal, retry: ctx.retry, onRetry: onRetry('run results') })
        : { files: [], pages: 0 };
  } catch (raw) {
    const err = toBatchupError(raw);
    ctx.emit({ type: 'batch-failed', batchId: planId, error: `app run ${s.runApp}: ${err.message}`, code: err.code, files: 0 });
    if (err.code === 'AUTH') throw err;
    return undefined;
  }
  if (final.status !== 'COMPLETE') {
    ctx.emit({
      type: 'batch-failed',
      batchId: planId,
      error: `app run ${final.id} (${s.runApp}) ended ${final.status}${final.msg ? `: ${final.msg}` : ''}`,
      code: 'REMOTE',
      files: 0,
    });
  }

  // Each uploaded file's entry gets its documents.
  const byFile = new Map<string, RunFileResult>();
  for (const f of results.files) byFile.set(f.original_file_name, f);
  for (const e of uploaded) {
    const f = byFile.get(e.name ?? '');
    e.remote = { ...e.remote, run: { id: final.id, status: final.status, documents: f?.documents ?? [] } };
  }
  const record: RunRecord = {
    id: final.id,
    app: s.runApp!,
    batchId,
    status: final.status,
    msg: final.msg ?? null,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(ctx.now()).toISOString(),
    files: results.files.length,
    pages: results.pages,
    results: results.files,
  };
  if (s.resultsFile) {
    record.resultsFile = resolve(ctx.run.cwd, s.resultsFile);
    await writeJsonAtomic(record.resultsFile, { run: final, app: s.runApp, batch_id: batchId, pages: results.pages, files: results.files });
  }
  return record;
}
