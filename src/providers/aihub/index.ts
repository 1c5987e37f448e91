/**
 * The aihub adapter (seed 002): create a batch (or reuse `--batch-id`), PUT files up to 10 MiB,
 * send larger ones through multipart sessions, and optionally run an app on the batch and collect
 * its results.
 *
 * - One plan batch = one AI Hub batch; files upload in parallel (`--concurrency` files at once).
 * - Multipart: the server picks part_size; parts go strictly in order within a session
 *   (PARTS_IN_ORDER, via the part engine with concurrency 1). The session and every acknowledged
 *   part are kept in the run's durable state (`ctx.state`) so a rerun resumes it; a session the
 *   server no longer knows is started again. A session is aborted when its file fails for good,
 *   but kept when the run is interrupted (that is what the rerun resumes).
 * - The batch a run created is kept in the state too (key: endpoint, workspace, batch name): a
 *   rerun with the same --batch-name and state (after a crash, a failure, or the next night's
 *   incremental run) adds to — and, name by name, replaces in — that same batch, so the batch
 *   mirrors its inputs. If the server no longer has it, a new one is created. A new name (or
 *   another --state) starts a new batch.
 * - Remote names: one URL path segment each (encodeURIComponent), checked by nameProblem(). Two
 *   inputs with the same remote name in one run: the first in scan order is sent, the later ones
 *   are rejected (`duplicate-name`) — in one batch the later PUT would silently replace the first.
 */
import { basename, resolve } from 'node:path';
import { hashedFileBody } from '../../core/bodies.js';
import { BatchupError, configError, toBatchupError, usageError } from '../../core/errors.js';
import { isNotFound } from '../../core/http.js';
import type { ManifestEntry } from '../../core/manifest.js';
import { writeJsonAtomic } from '../../core/manifest.js';
import type { MemoryBudget } from '../../core/memory.js';
import { planParts, sendParts } from '../../core/parts.js';
import { derivedBatchId } from '../../core/plan.js';
import { mapPool } from '../../core/pool.js';
import type { BatchPlan, PlanRequest, Provider, ProviderContext, ProviderFlag } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item, RejectRule } from '../../core/types.js';
import { AihubApi, type Session } from './api.js';
import { AIHUB_DEFAULT_ENDPOINT, LIMITS, appRef, checkIbContext, nameProblem, type PartAck, type RunFileResult, type RunInfo } from './contract.js';
import { allResults, createBatch, findFile, startRun, waitForRun } from './ops.js';
import { aihubPolicy } from './policy.js';

/** How retries are reported (withRetry's onRetry). */
type OnRetry = (info: { attempt: number; delayMs: number; error: BatchupError }) => void;

export const AIHUB_FLAGS: ProviderFlag[] = [
  { flags: '--batch-name <name>', description: 'name of the batch to create (≤ 255 characters)', key: 'batchName', env: 'BATCHUP_AIHUB_BATCH_NAME' },
  { flags: '--workspace <name>', description: 'workspace to create the batch in', key: 'workspace', env: 'BATCHUP_AIHUB_WORKSPACE' },
  { flags: '--ib-context <id>', description: 'IB-Context header (organization or user id) on every request', key: 'ibContext', env: 'BATCHUP_IB_CONTEXT' },
  { flags: '--run-app <app>', description: 'after the upload, run this app (name, or id; id:/name: force either) on the batch', key: 'runApp' },
  { flags: '--results <file>', description: 'write the app run results to this JSON file', key: 'resultsFile' },
];

export interface AihubSettings {
  batchName?: string;
  workspace?: string;
  ibContext?: string;
  runApp?: string;
  resultsFile?: string;
}

export function settingsOf(po: Record<string, string | boolean | undefined> | undefined): AihubSettings {
  const str = (k: string) => {
    const v = po?.[k];
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  return { batchName: str('batchName'), workspace: str('workspace'), ibContext: str('ibContext'), runApp: str('runApp'), resultsFile: str('resultsFile') };
}

/** Checks that need no I/O; throws USAGE / CONFIG errors. */
export function checkSettings(s: AihubSettings, batchId: string | undefined, token: string | undefined): void {
  if (!token) {
    throw configError('aihub needs an API token: set BATCHUP_TOKEN, run `batchup config set token -`, or pass --token-file FILE');
  }
  if (!batchId && !s.batchName) throw usageError('aihub needs --batch-name NAME (a new batch) or --batch-id ID (an existing batch)');
  if (s.batchName && [...s.batchName].length > LIMITS.maxNameLength) {
    throw usageError(`--batch-name is ${[...s.batchName].length} characters long; aihub allows at most ${LIMITS.maxNameLength}`);
  }
  if (batchId !== undefined && !/^\d+$/.test(batchId)) throw usageError(`--batch-id for aihub is a batch number, got "${batchId}"`);
  if (s.resultsFile && !s.runApp) throw usageError('--results needs --run-app');
  if (s.ibContext !== undefined) checkIbContext(s.ibContext, '--ib-context');
}

const isMultipart = (it: Item) => (it.size ?? 0) > LIMITS.putMaxBytes;

export function planAihub(req: PlanRequest): BatchPlan[] {
  if (!req.items.length) return [];
  const files = req.items.filter((i) => i.kind === 'file');
  const multi = files.filter(isMultipart).length;
  const put = files.length - multi;
  const parts = [`${put} PUT (≤ 10 MiB)`, `${multi} multipart session${multi === 1 ? '' : 's'}`];
  return [
    {
      batchId: req.batchId ?? derivedBatchId(req.items, 'aihub'),
      mode: 'sync',
      reason: `${req.batchId ? `into existing batch ${req.batchId}` : 'into a new batch'}: ${parts.join(', ')}`,
      files: req.items.length,
      images: req.items.length,
      bytes: req.items.reduce((n, it) => n + (it.size ?? 0), 0),
      sources: req.items.map((it) => it.source),
      items: req.items,
    },
  ];
}


/** The AI Hub batch of a run, per run (UploadOptions object). */
const resolved = new WeakMap<object, Promise<string>>();

/** Runs recorded during an upload, per run (for afterUpload → the manifest's `runs`). */
const runsOf = new WeakMap<object, RunRecord[]>();

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

/**
 * Inputs aihub cannot take, with why: URLs (local files only), remote names that nameProblem()
 * refuses, and a remote name already used by an earlier input (scan order) — in one batch the
 * later PUT would replace the earlier file. Pure; runBatch applies it, and it is exported as
 * `Provider.screen` so a dry run can report the same rejections before anything is sent.
 */
export function screenItems(items: readonly Item[]): { item: Item; rule: RejectRule; detail: string }[] {
  const out: { item: Item; rule: RejectRule; detail: string }[] = [];
  const byName = new Map<string, Item>();
  for (const it of [...items].sort((a, b) => a.order - b.order)) {
    if (it.kind !== 'file' || !it.path) {
      out.push({ item: it, rule: 'unsupported-type', detail: 'aihub takes local files only, not URLs' });
      continue;
    }
    const problem = nameProblem(it.name);
    if (problem) {
      out.push({ item: it, rule: 'bad-name', detail: `remote name '${it.name}' cannot be used: ${problem}` });
      continue;
    }
    const first = byName.get(it.name);
    if (first) {
      out.push({ item: it, rule: 'duplicate-name', detail: `remote name '${it.name}' is already used by ${first.source} in this batch (use --name-template, e.g. '{parent}-{name}')` });
      continue;
    }
    byName.set(it.name, it);
  }
  return out;
}

export const aihub: Provider = {
  name: 'aihub',
  defaultEndpoint: AIHUB_DEFAULT_ENDPOINT,
  policy: aihubPolicy,
  capabilities: { urls: false, zips: false, modes: ['sync'] },
  flags: AIHUB_FLAGS,
  plan: planAihub,
  async prepare(ctx) {
    checkSettings(settingsOf(ctx.options.providerOptions), ctx.options.batchId, ctx.auth.token);
  },
  runBatch,
  screen: screenItems,
  async afterUpload(ctx) {
    const runs = runsOf.get(ctx.options);
    return runs?.length ? { runs } : undefined;
  },
};

// ---------------------------------------------------------------------------- state keys

export const batchKey = (endpoint: string, workspace: string | undefined, name: string) =>
  `aihub:batch:${endpoint.replace(/\/+$/, '')}|${workspace ?? ''}|${name}`;
export const sessionKey = (endpoint: string, batchId: string, it: Pick<Item, 'source' | 'name'>) =>
  `aihub:session:${endpoint.replace(/\/+$/, '')}|${batchId}|${it.name}|${it.source}`;

interface SavedSession {
  url: string;
  id: string;
  partSize: number;
  size: number;
  mtimeMs?: number;
  /** part_num → latest part_id. */
  parts: Record<string, string | number>;
}

// ---------------------------------------------------------------------------- the batch

async function runBatch(batch: BatchPlan, ctx: ProviderContext): Promise<ManifestEntry[]> {
  const s = settingsOf(ctx.options.providerOptions);
  checkSettings(s, ctx.options.batchId, ctx.auth.token);
  const api = new AihubApi({ http: ctx.http, endpoint: ctx.endpoint, token: ctx.auth.token!, ibContext: s.ibContext });
  const startedAt = new Date(ctx.now()).toISOString();
  const onRetry = (what: string): OnRetry => ({ attempt, delayMs, error }) =>
    ctx.emit({ type: 'retry', batchId: batch.batchId, attempt, delayMs, error: `${what}: ${error.message}`, code: error.code });

  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: 'sync', files: batch.files, bytes: batch.bytes });

  // ---- items that are never sent
  const entries = new Map<Item, ManifestEntry>();
  const base = (it: Item, index: number): ManifestEntry => ({
    source: it.source,
    status: 'failed',
    provider: 'aihub',
    name: it.name,
    size: it.size,
    mtimeMs: it.mtimeMs,
    format: it.format,
    mode: 'sync',
    index,
    startedAt,
  });
  const reject = (it: Item, index: number, rule: RejectRule, detail: string) =>
    entries.set(it, { ...base(it, index), status: 'rejected', rule, error: `${basename(it.source)}: ${detail} (${rule})` });
  const refused = new Map(screenItems(batch.items).map((r) => [r.item, r]));
  const toSend: { it: Item; index: number }[] = [];
  batch.items.forEach((it, index) => {
    const r = refused.get(it);
    if (r) reject(it, index, r.rule, r.detail);
    else toSend.push({ it, index });
  });

  const finish = () => batch.items.map((it) => entries.get(it)!).filter(Boolean);
  if (!toSend.length) return finish();

  // ---- the batch on the server (one lookup/creation per run, even when the pipeline resumes an
  // interrupted plan batch next to a fresh one: both go to the same AI Hub batch)
  let resolving = resolved.get(ctx.options);
  if (!resolving) {
    resolving = resolveBatch(api, ctx, s, onRetry('create batch'));
    resolved.set(ctx.options, resolving);
    resolving.catch(() => resolved.delete(ctx.options));
  }
  const serverId = await resolving;

  // ---- files
  const budget = ctx.memory;
  let stop: BatchupError | undefined;
  await mapPool(toSend, Math.max(1, ctx.options.concurrency), async ({ it, index }) => {
    const e = { ...base(it, index), batchId: serverId };
    if (stop || ctx.signal?.aborted) {
      const err = stop ?? new BatchupError('INTERRUPTED', 'interrupted before it was sent', { retryable: false });
      entries.set(it, { ...e, code: err.code, error: `${it.source}: ${err.message}`, finishedAt: new Date(ctx.now()).toISOString() });
      return;
    }
    try {
      const r = await uploadFile({ api, batchId: serverId, it, ctx, budget, onRetry: onRetry(it.name) }, batch.batchId);
      entries.set(it, {
        ...e,
        status: 'uploaded',
        sha256: r.sha256,
        url: api.fileUrl(serverId, it.name),
        id: `${serverId}/${it.name}`,
        finishedAt: new Date(ctx.now()).toISOString(),
        remote: { batch_id: serverId, filename: it.name, upload: r.upload, ...(r.session ? { session_id: r.session.id, part_size: r.session.partSize, parts: r.parts, resumed_parts: r.resumedParts } : {}) },
      });
    } catch (raw) {
      let err = toBatchupError(raw);
      // The credentials are refused, or the batch is gone: nothing else can succeed.
      if (err.code === 'AUTH') stop ??= err;
      else if (isNotFound(err) && !stop && !(await api.getBatch(serverId, ctx.signal).then(Boolean, () => true))) {
        stop ??= new BatchupError('NOT_FOUND', `aihub batch ${serverId} no longer exists (deleted during the upload?)`, { status: 404, retryable: false });
      }
      if (stop && isNotFound(err)) err = stop;
      entries.set(it, { ...e, code: err.code, error: `${it.source}: ${err.message}`, finishedAt: new Date(ctx.now()).toISOString() });
    }
  });
  if (stop?.code === 'AUTH') throw stop;

  const list = finish();
  const uploaded = list.filter((e) => e.status === 'uploaded');

  // ---- app run
  if (s.runApp && uploaded.length && !ctx.signal?.aborted) {
    await runApp(api, serverId, s, ctx, batch.batchId, uploaded, onRetry);
  }
  return list;
}

/** `--batch-id`, else the batch this state created earlier and the server still has, else a new one. */
async function resolveBatch(
  api: AihubApi,
  ctx: ProviderContext,
  s: AihubSettings,
  onRetry: OnRetry,
): Promise<string> {
  const opts = { policy: ctx.retry, signal: ctx.signal, onRetry };
  if (ctx.options.batchId) {
    const id = ctx.options.batchId;
    const b = await withRetry(() => api.getBatch(id, ctx.signal), opts);
    if (!b) throw new BatchupError('NOT_FOUND', `aihub batch ${id} (--batch-id) does not exist, or denied access`, { status: 404, retryable: false });
    return id;
  }
  const key = batchKey(ctx.endpoint, s.workspace, s.batchName!);
  const saved = ctx.state.get<{ id: string }>(key);
  if (saved?.id && (await withRetry(() => api.getBatch(saved.id, ctx.signal), opts))) return saved.id;
  const { id } = await createBatch(api, s.batchName!, s.workspace, { signal: ctx.signal, retry: ctx.retry, onRetry, now: ctx.now });
  ctx.state.put(key, { id, name: s.batchName, workspace: s.workspace ?? null });
  return id;
}

// ---------------------------------------------------------------------------- one file

interface Uploaded {
  upload: 'put' | 'multipart';
  sha256?: string;
  session?: Session;
  parts?: number;
  resumedParts?: number;
}

/** One file to send to the server's batch `batchId`, and what sending it needs. */
interface FileUpload {
  api: AihubApi;
  batchId: string;
  it: Item;
  ctx: ProviderContext;
  budget: MemoryBudget;
  onRetry: OnRetry;
}

async function uploadFile(u: FileUpload, planId: string): Promise<Uploaded> {
  const { api, batchId, it, ctx, onRetry } = u;
  const size = it.size!;
  const progress = (sent: number) => ctx.emit({ type: 'file-progress', batchId: planId, source: it.source, sent, total: size });
  if (!isMultipart(it)) {
    const sha256 = await withRetry(
      async () => {
        const body = hashedFileBody(it.path!, size, progress);
        await api.putFile(batchId, it.name, body, ctx.signal);
        return body.sha256();
      },
      { policy: ctx.retry, signal: ctx.signal, onRetry },
    );
    return { upload: 'put', sha256 };
  }
  return multipart(u, progress);
}

async function multipart(u: FileUpload, progress: (sent: number) => void): Promise<Uploaded> {
  const { api, batchId, it, ctx, budget, onRetry } = u;
  const size = it.size!;
  const key = sessionKey(ctx.endpoint, batchId, it);
  let saved = ctx.state.get<SavedSession>(key);
  if (saved && (saved.size !== size || (saved.mtimeMs ?? it.mtimeMs) !== it.mtimeMs)) {
    // The file changed since that session began: its parts are worthless.
    const stale = saved;
    await api.abortSession(stale, ctx.signal).catch(() => undefined);
    ctx.state.put(key, null);
    saved = undefined;
  }

  for (let round = 0; ; round++) {
    const resumed = saved !== undefined;
    const session: Session = saved
      ? { url: saved.url, id: saved.id, partSize: saved.partSize }
      : await withRetry(() => api.startSession(batchId, it.name, size, ctx.signal), { policy: ctx.retry, signal: ctx.signal, onRetry });
    const acked = new Map<number, string | number>(saved ? Object.entries(saved.parts).map(([k, v]) => [Number(k), v]) : []);
    const record = () =>
      ctx.state.put(key, { url: session.url, id: session.id, partSize: session.partSize, size, mtimeMs: it.mtimeMs, parts: Object.fromEntries(acked) } satisfies SavedSession);
    if (!resumed) record();

    const all = planParts(size, session.partSize);
    // Parts go in order: resume after the acknowledged prefix (anything past a gap is sent again).
    let prefix = 0;
    while (acked.has(prefix + 1)) prefix++;
    for (const n of [...acked.keys()]) if (n > prefix || n > all.length) acked.delete(n);
    const todo = all.filter((p) => p.number > prefix);
    const resumedBytes = all.filter((p) => p.number <= prefix).reduce((n, p) => n + p.size, 0);
    if (resumedBytes) progress(resumedBytes);

    try {
      const memory = session.partSize <= budget.maxBytes ? budget : undefined;
      if (!memory && ctx.options.maxMemory !== undefined) {
        throw usageError(`aihub chose parts of ${session.partSize} bytes, more than --max-memory (${budget.maxBytes} bytes)`);
      }
      const r = await sendParts<PartAck>({
        path: it.path!,
        size,
        parts: todo,
        concurrency: 1, // PARTS_IN_ORDER (contract.ts)
        send: (part, body, signal) => api.putPart(session, part.number, body, signal),
        onAck: (part, ack) => {
          acked.set(part.number, ack.part_id);
          record();
        },
        onProgress: (bytes) => progress(resumedBytes + bytes),
        onRetry: (part, error, attempt, delayMs) => onRetry({ attempt, delayMs, error: new BatchupError(error.code, `part ${part.number}: ${error.message}`, { retryable: error.retryable, status: error.status }) }),
        retry: ctx.retry,
        signal: ctx.signal,
        memory,
        hash: true,
      });
      const parts = all.map((p) => ({ part_num: p.number, part_id: acked.get(p.number)! }));
      await commit(api, batchId, it, session, parts, ctx, onRetry, resumed && todo.length === 0);
      ctx.state.put(key, null);
      return { upload: 'multipart', sha256: r.sha256, session, parts: all.length, resumedParts: prefix };
    } catch (raw) {
      const err = toBatchupError(raw);
      if (resumed && round === 0 && isNotFound(err)) {
        // The server forgot the session (expired, restarted): start a new one.
        ctx.state.put(key, null);
        saved = undefined;
        continue;
      }
      if (err.code !== 'INTERRUPTED' && !ctx.signal?.aborted) {
        await api.abortSession(session).catch(() => undefined);
        ctx.state.put(key, null);
      }
      throw err;
    }
  }
}

/**
 * Commit with the latest part ids. If a commit whose answer was lost went through, the session is
 * gone (404): the file is then looked up in the batch and accepted when it has the right size.
 */
async function commit(
  api: AihubApi,
  batchId: string,
  it: Item,
  session: Session,
  parts: PartAck[],
  ctx: ProviderContext,
  onRetry: OnRetry,
  mayBeCommitted: boolean,
): Promise<void> {
  await withRetry(
    async (attempt) => {
      try {
        await api.commitSession(session, parts, ctx.signal);
      } catch (err) {
        if (isNotFound(err) && (attempt > 0 || mayBeCommitted)) {
          const node = await findFile(api, batchId, it.name, ctx.signal);
          if (node && Number(node.size) === it.size) return;
        }
        throw err;
      }
    },
    { policy: ctx.retry, signal: ctx.signal, onRetry },
  );
}

// ---------------------------------------------------------------------------- app run

async function runApp(
  api: AihubApi,
  batchId: string,
  s: AihubSettings,
  ctx: ProviderContext,
  planId: string,
  uploaded: ManifestEntry[],
  onRetry: (what: string) => OnRetry,
): Promise<void> {
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
      intervalMs: ctx.options.pollIntervalMs,
      maxMs: ctx.options.pollMaxIntervalMs,
      timeoutMs: ctx.options.pollTimeoutMs,
      onUpdate: emitRun,
      onRetry: onRetry(`run ${run.id}`),
    });
    results = final.status === 'COMPLETE' ? await allResults(api, run.id, { signal: ctx.signal, retry: ctx.retry, onRetry: onRetry('run results') }) : { files: [], pages: 0 };
  } catch (raw) {
    const err = toBatchupError(raw);
    ctx.emit({ type: 'batch-failed', batchId: planId, error: `app run ${s.runApp}: ${err.message}`, code: err.code });
    if (err.code === 'AUTH') throw err;
    return;
  }
  if (final.status !== 'COMPLETE') {
    ctx.emit({ type: 'batch-failed', batchId: planId, error: `app run ${final.id} (${s.runApp}) ended ${final.status}${final.msg ? `: ${final.msg}` : ''}`, code: 'REMOTE' });
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
    record.resultsFile = resolve(ctx.options.cwd, s.resultsFile);
    await writeJsonAtomic(record.resultsFile, { run: final, app: s.runApp, batch_id: batchId, pages: results.pages, files: results.files });
  }
  const list = runsOf.get(ctx.options) ?? [];
  list.push(record);
  runsOf.set(ctx.options, list);
}
