/**
 * aihub operations built from several requests, shared by the upload adapter and the `batches` /
 * `runs` commands: create-or-adopt a batch, find a file, wait for a delete job, start an app run,
 * wait for it, and read every page of its results. Progress goes to callbacks; nothing here
 * prints.
 */
import { BatchupError } from '../../core/errors.js';
import { pollUntil } from '../../core/poll.js';
import { withRetry, type RetryPolicy } from '../../core/retry.js';
import type { AihubApi, RunRequest } from './api.js';
import { ADOPT_WINDOW_MS, JOB_DONE, RUN_ACTIVE, type BatchInfo, type FileNode, type JobStatus, type RunFileResult, type RunInfo } from './contract.js';

export interface Waiting {
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** First poll delay; grows while nothing changes, up to maxMs. */
  intervalMs: number;
  maxMs: number;
  timeoutMs: number;
  onRetry?: (info: { attempt: number; delayMs: number; error: BatchupError }) => void;
}

/** withRetry's options from ours. */
const retrying = (o: Pick<Waiting, 'signal' | 'retry' | 'onRetry'>) => ({ policy: o.retry, signal: o.signal, onRetry: o.onRetry });
/** pollUntil's timing, retry and cancellation options from a Waiting. */
const polling = (o: Waiting) => ({ initialMs: o.intervalMs, maxMs: o.maxMs, timeoutMs: o.timeoutMs, signal: o.signal, retry: o.retry, onRetry: o.onRetry });

const LIST_PAGE = 100;
const LIST_MAX_PAGES = 200;

/** Every batch matching the filters, paging with limit/offset until a short page. */
export async function listAllBatches(
  api: AihubApi,
  q: { workspace?: string; username?: string },
  o: Pick<Waiting, 'signal' | 'retry' | 'onRetry'> = {},
): Promise<BatchInfo[]> {
  const out: BatchInfo[] = [];
  for (let page = 0; page < LIST_MAX_PAGES; page++) {
    const got = await withRetry(() => api.listBatches({ ...q, limit: LIST_PAGE, offset: page * LIST_PAGE }, o.signal), retrying(o));
    out.push(...got);
    if (got.length < LIST_PAGE) break;
  }
  return out;
}

/**
 * Create a batch. A retry after an unclear failure first looks for the batch that attempt may
 * have created (see ADOPT_WINDOW_MS), so a lost answer does not leave two batches behind.
 */
export async function createBatch(
  api: AihubApi,
  name: string,
  workspace: string | undefined,
  o: Pick<Waiting, 'signal' | 'retry' | 'onRetry'> & { now?: () => number } = {},
): Promise<{ id: string; adopted: boolean }> {
  const now = o.now ?? Date.now;
  const since = now() - ADOPT_WINDOW_MS;
  return withRetry(async (attempt) => {
    if (attempt > 0) {
      const mine = (await listAllBatches(api, { workspace }, { signal: o.signal }))
        .filter((b) => b.name === name && Number(b.created_at_ms) >= since)
        .sort((a, b) => Number(b.created_at_ms) - Number(a.created_at_ms))[0];
      if (mine) return { id: String(mine.id), adopted: true };
    }
    const { id } = await api.createBatch(name, workspace, o.signal);
    return { id, adopted: false };
  }, retrying(o));
}

/** A file of a batch by name (pages through the listing), or undefined. */
export async function findFile(api: AihubApi, batchId: string, name: string, signal?: AbortSignal): Promise<FileNode | undefined> {
  for await (const node of api.allFiles(batchId, 1000, signal)) if (node.name === name) return node;
  return undefined;
}

/** Poll a delete job until COMPLETE / FAILED / CANCELLED. */
export async function waitForJob(
  api: AihubApi,
  job: { jobId: string; jobUrl?: string },
  o: Waiting & { onUpdate?: (s: JobStatus) => void },
): Promise<JobStatus> {
  return pollUntil<JobStatus>({
    fetch: () => api.getJob(job, o.signal),
    done: (s) => JOB_DONE.has(s.state),
    onUpdate: o.onUpdate,
    progressKey: (s) => s.state,
    ...polling(o),
  });
}

/** Start a run. A lost answer can start a second run (the API has no idempotency key): ASSUMED acceptable. */
export async function startRun(api: AihubApi, req: RunRequest, o: Pick<Waiting, 'signal' | 'retry' | 'onRetry'> = {}): Promise<RunInfo> {
  return withRetry(() => api.startRun(req, o.signal), retrying(o));
}

export const runDone = (r: RunInfo) => !RUN_ACTIVE.has(r.status);

/** Poll a run until it is no longer active (see RUN_ACTIVE). */
export async function waitForRun(api: AihubApi, runId: string, o: Waiting & { onUpdate?: (r: RunInfo) => void }): Promise<RunInfo> {
  return pollUntil<RunInfo>({
    fetch: () => api.getRun(runId, o.signal),
    done: runDone,
    onUpdate: o.onUpdate,
    progressKey: (r) => `${r.status}:${r.progress?.completed ?? ''}`,
    progress: (r) => (r.progress ? { done: r.progress.completed, total: r.progress.total } : { done: 0, total: 0 }),
    ...polling(o),
  });
}

/** Every page of a run's results from `fileOffset`: `file_offset` advances by the files received while `has_more`. */
export async function allResults(
  api: AihubApi,
  runId: string,
  o: Pick<Waiting, 'signal' | 'retry' | 'onRetry'> & { fileOffset?: number; onPage?: (offset: number, files: number) => void } = {},
): Promise<{ files: RunFileResult[]; pages: number; status?: string }> {
  const files: RunFileResult[] = [];
  let offset = o.fileOffset ?? 0;
  let pages = 0;
  let status: string | undefined;
  for (;;) {
    const page = await withRetry(() => api.getRunResults(runId, offset, o.signal), retrying(o));
    pages++;
    status = page.status ?? status;
    files.push(...page.files);
    o.onPage?.(offset, page.files.length);
    if (!page.has_more) break;
    if (page.files.length === 0) {
      throw new BatchupError('PROTOCOL', `aihub results of run ${runId}: has_more with an empty page at file_offset ${offset}`, { retryable: false });
    }
    offset += page.files.length;
  }
  return { files, pages, status };
}
