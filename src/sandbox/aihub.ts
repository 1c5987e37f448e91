/**
 * aihub (seed 002, protocols/aihub.md): batches, files, multipart sessions, delete jobs and app
 * runs under `/api/v2/…`. Paths, limits, states and messages come from the shared contract
 * (src/providers/aihub/contract.ts); the sandbox-only choices are in its SANDBOX block.
 *
 * - Files are streamed to temp files while hashing and become content-addressed objects only when
 *   accepted (PUT complete, or a commit that covers the file). Same name again replaces.
 * - Multipart parts are streamed to disk as they arrive; each must have exactly the size its
 *   number implies, and (PARTS_IN_ORDER) part n + 1 is refused until part n was acknowledged.
 *   A commit must list every part 1..N with its latest part_id.
 * - Delete jobs walk PENDING → RUNNING → COMPLETE/FAILED over time (jobStepMs each) and take
 *   effect when they finish. Deleting a file the batch does not have: the job FAILS (ASSUMED).
 * - App runs snapshot the batch, stay RUNNING while the "app" works through the files
 *   (processMsPerImage each, at least runMinMs) and report one document per file
 *   {name, size, detected_type}; results are paged (resultsPageSize files per page).
 * - Batches and their files persist under <data>/aihub/state.json; sessions, jobs and runs live
 *   in memory (a restarted sandbox has forgotten them, like an expired session).
 * - Every request's IB-Context header is counted (GET /_sandbox/aihub), so tests can prove a
 *   client sent it everywhere.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LIMITS,
  MESSAGES,
  PARTS_IN_ORDER,
  SANDBOX,
  expectedPartSize,
  expectedParts,
  nameProblem,
  type BatchInfo,
  type RunInfo,
} from '../providers/aihub/contract.js';
import { stripUndefined } from './faults.js';
import { sniffExt } from './media.js';
import { BodyTooLarge, type Protocol, type ProtocolFactory, type RequestContext, type SandboxCore } from './server.js';
import type { Ingested } from './store.js';

export const AIHUB_BASE = '/api/v2';

/** Sandbox settings for aihub (SandboxOptions.aihub); defaults from SANDBOX / LIMITS. */
export interface AihubSandboxOptions {
  partSize: number;
  resultsPageSize: number;
  filesPageSize: number;
  jobStepMs: number;
}

export interface AihubFile {
  name: string;
  sha256: string;
  size: number;
  /** Extension for /cdn URLs. */
  ext: string;
  detected_type: string;
  via: 'put' | 'multipart';
  updated_at_ms: number;
}

export interface AihubBatch {
  id: number;
  name: string;
  workspace: string;
  created_at_ms: number;
  updated_at_ms: number;
  path_suffix: string;
  files: Record<string, AihubFile>;
  /** IB-Context values of requests that addressed this batch ('' = none). */
  contexts: Record<string, number>;
}

interface SessionPart {
  part_id: number;
  path: string;
  size: number;
}

interface Session {
  id: string;
  batch_id: number;
  filename: string;
  file_size: number;
  part_size: number;
  parts: Map<number, SessionPart>;
  /** Highest part number n such that parts 1..n were all acknowledged. */
  acked: number;
  committing: boolean;
}

interface Job {
  id: string;
  created: number;
  batch_id: number;
  filename?: string;
  outcome: 'COMPLETE' | 'FAILED';
  message: string;
  applied: boolean;
}

interface Run {
  id: string;
  app_name?: string;
  app_id?: string;
  batch_id: number;
  created: number;
  durationMs: number;
  files: AihubFile[];
  failed?: string;
}

class BodyError extends Error {}

const MAX_JSON = 1024 * 1024;

export const createAihubProtocol: ProtocolFactory = (core) => createAihub(core);

async function createAihub(core: SandboxCore): Promise<Protocol> {
  const opts: AihubSandboxOptions = {
    partSize: LIMITS.defaultPartSize,
    resultsPageSize: SANDBOX.resultsPageSize,
    filesPageSize: SANDBOX.filesPageSize,
    jobStepMs: SANDBOX.jobStepMs,
    ...stripUndefined(core.aihub ?? {}),
  };
  for (const [k, v] of Object.entries(opts)) {
    if (!(Number.isSafeInteger(v) && v >= (k === 'jobStepMs' ? 0 : 1))) throw new RangeError(`aihub sandbox option ${k} must be a positive integer, got ${v}`);
  }

  const dir = join(core.dataDir, 'aihub');
  await mkdir(dir, { recursive: true });
  const stateFile = join(dir, 'state.json');
  const batches = new Map<number, AihubBatch>();
  let nextBatchId = 1;
  try {
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { nextBatchId: number; batches: AihubBatch[] };
    nextBatchId = saved.nextBatchId;
    for (const b of saved.batches) {
      batches.set(b.id, b);
      for (const f of Object.values(b.files)) core.stats.receipt(f.sha256);
    }
  } catch {
    /* a fresh sandbox */
  }
  const sessions = new Map<string, Session>();
  const jobs = new Map<string, Job>();
  const runs = new Map<string, Run>();
  const counters = { contexts: {} as Record<string, number>, partsReceived: 0, partsOutOfOrder: 0, sessionsStarted: 0, sessionsCommitted: 0, sessionsAborted: 0 };
  let partSeq = 0;

  // ---- persistence (serialised writes of the whole state) ----
  let writing: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const persist = (): Promise<void> => {
    // A write that has not started yet will include this change too: share it. So the changes
    // made while one write runs cost one more write, not one each (a batch of N files is not N
    // rewrites of the whole state).
    if (queued) return queued;
    const next = writing.then(async () => {
      queued = undefined; // the state is serialised below, in this same tick
      const tmp = `${stateFile}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, JSON.stringify({ nextBatchId, batches: [...batches.values()] }));
      await rename(tmp, stateFile);
    });
    queued = next;
    writing = next.catch((err) => core.log(`aihub: persisting failed: ${String(err)}`));
    return next;
  };

  // ---- helpers ----
  const fail = (ctx: RequestContext, status: number, message: string, headers: Record<string, string> = {}) =>
    ctx.refuse(status, { message }, headers);
  const ibContext = (ctx: RequestContext) => {
    const v = ctx.req.headers['ib-context'];
    return typeof v === 'string' ? v : '';
  };
  /** Auth + bookkeeping every route does first; false when it already answered. */
  const enter = async (ctx: RequestContext): Promise<boolean> => {
    tick();
    const c = ibContext(ctx);
    counters.contexts[c] = (counters.contexts[c] ?? 0) + 1;
    if (!(await ctx.authorized())) {
      await fail(ctx, 401, MESSAGES.unauthorized);
      return false;
    }
    return true;
  };
  const noteBatch = (ctx: RequestContext, b: AihubBatch) => {
    const c = ibContext(ctx);
    b.contexts[c] = (b.contexts[c] ?? 0) + 1;
  };
  const batchOf = (raw: unknown): AihubBatch | undefined => {
    const s = String(raw ?? '');
    return /^\d+$/.test(s) ? batches.get(Number(s)) : undefined;
  };
  /** enter(), then the batch of the :id route (noted); undefined when it already answered. */
  const enterBatch = async (ctx: RequestContext): Promise<AihubBatch | undefined> => {
    if (!(await enter(ctx))) return undefined;
    const b = batchOf(ctx.params.id);
    if (!b) {
      await fail(ctx, 404, MESSAGES.batchNotFound(ctx.params.id!));
      return undefined;
    }
    noteBatch(ctx, b);
    return b;
  };
  const info = (b: AihubBatch): BatchInfo => ({
    id: b.id,
    name: b.name,
    workspace: b.workspace,
    mount_point: SANDBOX.mountPoint,
    repo_owner: SANDBOX.owner,
    batch_owner: SANDBOX.owner,
    created_at_ms: b.created_at_ms,
    updated_at_ms: b.updated_at_ms,
    path_suffix: b.path_suffix,
  });

  async function readJson(ctx: RequestContext): Promise<Record<string, unknown>> {
    const body = await ctx.readBody(MAX_JSON);
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8') || 'null');
    } catch (err) {
      throw new BodyError(`malformed JSON (${(err as Error).message})`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BodyError('the body must be a JSON object');
    return v as Record<string, unknown>;
  }

  /** readJson(), answering 400 (or dropping an aborted request) itself; undefined when it did. */
  async function jsonBody(ctx: RequestContext): Promise<Record<string, unknown> | undefined> {
    try {
      return await readJson(ctx);
    } catch (err) {
      if (err instanceof BodyError || err instanceof BodyTooLarge) await fail(ctx, 400, MESSAGES.invalidBody(err.message));
      else ctx.destroy();
      return undefined;
    }
  }

  /** Stream the request body to a temp file (at most `limit` bytes kept). */
  async function ingestBody(ctx: RequestContext, limit: number): Promise<Ingested | undefined> {
    try {
      const ing = await core.store.ingest(ctx.req as AsyncIterable<Buffer>, limit);
      if (!ctx.req.complete) {
        await core.store.discard(ing);
        return undefined;
      }
      return ing;
    } catch {
      return undefined;
    }
  }

  function detect(head: Buffer, name: string): { detected: string; ext: string } {
    if (head.subarray(0, 5).toString('latin1') === '%PDF-') return { detected: 'pdf', ext: 'pdf' };
    const sniffed = sniffExt(head);
    if (sniffed === 'zip' && /\.docx$/i.test(name)) return { detected: 'docx', ext: 'docx' };
    return { detected: sniffed ?? 'unknown', ext: sniffed ?? 'bin' };
  }

  async function accept(b: AihubBatch, name: string, ing: Ingested, via: AihubFile['via']): Promise<void> {
    const { sha256, size } = await core.store.commit(ing);
    const { detected, ext } = detect(ing.head, name);
    const prev = b.files[name];
    if (!prev || prev.sha256 !== sha256) core.stats.receipt(sha256);
    const now = Date.now();
    b.files[name] = { name, sha256, size, ext, detected_type: detected, via, updated_at_ms: now };
    b.updated_at_ms = now;
    await persist();
  }

  // ---- time: jobs take effect when they end ----
  const jobState = (j: Job, now = Date.now()): string => {
    const t = now - j.created;
    if (t < opts.jobStepMs) return 'PENDING';
    if (t < 2 * opts.jobStepMs) return 'RUNNING';
    return j.outcome;
  };
  function tick(now = Date.now()): void {
    let changed = false;
    for (const j of jobs.values()) {
      if (j.applied || jobState(j, now) !== j.outcome) continue;
      j.applied = true;
      if (j.outcome !== 'COMPLETE') continue;
      const b = batches.get(j.batch_id);
      if (!b) continue;
      if (j.filename === undefined) {
        batches.delete(b.id);
        for (const [sid, s] of sessions) if (s.batch_id === b.id) void dropSession(sid);
      } else {
        delete b.files[j.filename];
        b.updated_at_ms = now;
      }
      changed = true;
    }
    if (changed) void persist().catch(() => undefined);
  }

  async function dropSession(id: string): Promise<void> {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    await Promise.all([...s.parts.values()].map((p) => core.store.discard(p.path)));
  }

  const runView = (r: Run, now = Date.now()): RunInfo & Record<string, unknown> => {
    const total = r.files.length;
    const elapsed = now - r.created;
    const perFile = total ? r.durationMs / total : r.durationMs;
    const done = r.failed ? 0 : Math.min(total, Math.floor(elapsed / Math.max(perFile, 1e-9)));
    const finished = r.failed !== undefined || elapsed >= r.durationMs;
    const status = r.failed !== undefined ? 'FAILED' : finished ? 'COMPLETE' : 'RUNNING';
    return {
      id: r.id,
      status,
      start_timestamp: r.created,
      finish_timestamp: finished ? r.created + (r.failed ? 0 : r.durationMs) : null,
      msg: r.failed ?? (finished ? MESSAGES.runComplete : null),
      batch_id: r.batch_id,
      app_name: r.app_name ?? null,
      app_id: r.app_id ?? null,
      progress: { completed: finished && !r.failed ? total : done, total },
    };
  };

  // ---- routes: batches ----
  async function createBatch(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const body = await jsonBody(ctx);
    if (!body) return;
    const name = body.name;
    if (typeof name !== 'string' || name.trim() === '') return fail(ctx, 400, MESSAGES.nameRequired);
    if ([...name].length > LIMITS.maxNameLength) return fail(ctx, 400, MESSAGES.nameTooLong);
    if (body.workspace !== undefined && body.workspace !== null && typeof body.workspace !== 'string') {
      return fail(ctx, 400, MESSAGES.invalidBody("'workspace' must be a string"));
    }
    const now = Date.now();
    const b: AihubBatch = {
      id: nextBatchId++,
      name,
      workspace: (body.workspace as string | undefined) || SANDBOX.defaultWorkspace,
      created_at_ms: now,
      updated_at_ms: now,
      path_suffix: `file-batches/${randomUUID()}`,
      files: {},
      contexts: {},
    };
    noteBatch(ctx, b);
    batches.set(b.id, b);
    await persist();
    return ctx.json(200, { id: b.id });
  }

  async function listBatches(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const q = ctx.url.searchParams;
    const int = (k: string) => {
      const v = q.get(k);
      if (v === null || v === '') return undefined;
      return /^\d+$/.test(v) ? Number(v) : NaN;
    };
    const limit = int('limit');
    const offset = int('offset') ?? 0;
    if (Number.isNaN(limit) || Number.isNaN(offset)) return fail(ctx, 400, 'limit and offset must be non-negative integers.');
    const workspace = q.get('workspace');
    const username = q.get('username');
    let list = [...batches.values()].sort((a, b) => a.id - b.id);
    if (workspace) list = list.filter((b) => b.workspace === workspace);
    if (username) list = list.filter(() => username === SANDBOX.owner);
    list = list.slice(offset, limit === undefined ? undefined : offset + limit);
    return ctx.json(200, { batches: list.map(info) });
  }

  async function getBatch(ctx: RequestContext): Promise<void> {
    const b = await enterBatch(ctx);
    if (!b) return;
    return ctx.json(200, info(b));
  }

  async function deleteBatch(ctx: RequestContext): Promise<void> {
    const b = await enterBatch(ctx);
    if (!b) return;
    const job: Job = { id: randomUUID(), created: Date.now(), batch_id: b.id, outcome: 'COMPLETE', message: MESSAGES.jobComplete, applied: false };
    jobs.set(job.id, job);
    return ctx.json(202, { job_id: job.id });
  }

  // ---- routes: files ----
  async function listFiles(ctx: RequestContext): Promise<void> {
    const b = await enterBatch(ctx);
    if (!b) return;
    const q = ctx.url.searchParams;
    const rawSize = q.get('page_size');
    let pageSize = opts.filesPageSize;
    if (rawSize !== null && rawSize !== '') {
      if (!/^\d+$/.test(rawSize) || Number(rawSize) < 1) return fail(ctx, 400, 'page_size must be a positive integer.');
      pageSize = Math.min(Number(rawSize), SANDBOX.filesMaxPageSize);
    }
    let after: string | undefined;
    const token = q.get('start_token');
    if (token) {
      try {
        after = Buffer.from(token, 'base64url').toString('utf8');
      } catch {
        return fail(ctx, 400, 'start_token is not valid.');
      }
    }
    const names = Object.keys(b.files).sort();
    const from = after === undefined ? 0 : names.findIndex((n) => n > after!);
    const slice = from < 0 ? [] : names.slice(from, from + pageSize);
    const hasMore = from >= 0 && from + pageSize < names.length;
    return ctx.json(200, {
      nodes: slice.map((n) => {
        const f = b.files[n]!;
        return { name: f.name, size: f.size, type: 'file', full_path: `${b.path_suffix}/${f.name}`, modified_timestamp: f.updated_at_ms };
      }),
      next_page_token: hasMore ? Buffer.from(slice[slice.length - 1]!, 'utf8').toString('base64url') : null,
      has_more: hasMore,
    });
  }

  async function putFile(ctx: RequestContext): Promise<void> {
    const b = await enterBatch(ctx);
    if (!b) return;
    const name = ctx.params.filename!;
    if (nameProblem(name)) return fail(ctx, 400, MESSAGES.invalidFilename(name));
    const declared = ctx.req.headers['content-length'];
    if (declared === undefined) return fail(ctx, 411, 'Content-Length is required.');
    const ing = await ingestBody(ctx, LIMITS.maxFileSize);
    if (!ing) return ctx.destroy();
    if (ing.overLimit) {
      await core.store.discard(ing);
      return fail(ctx, 413, 'The file is too large.');
    }
    // The batch may have been deleted while the body streamed.
    if (!batches.has(b.id)) {
      await core.store.discard(ing);
      return fail(ctx, 404, MESSAGES.batchNotFound(String(b.id)));
    }
    await accept(b, name, ing, 'put');
    return ctx.send(204, {});
  }

  async function deleteFile(ctx: RequestContext): Promise<void> {
    const b = await enterBatch(ctx);
    if (!b) return;
    const name = ctx.params.filename!;
    const exists = Object.prototype.hasOwnProperty.call(b.files, name);
    const job: Job = {
      id: randomUUID(),
      created: Date.now(),
      batch_id: b.id,
      filename: name,
      outcome: exists ? 'COMPLETE' : 'FAILED',
      message: exists ? MESSAGES.jobComplete : MESSAGES.fileNotFound(name),
      applied: false,
    };
    jobs.set(job.id, job);
    return ctx.send(202, { location: `${core.origin}${AIHUB_BASE}/batches/jobs/${job.id}` });
  }

  async function getJob(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const j = jobs.get(ctx.params.job_id!);
    if (!j) return fail(ctx, 404, MESSAGES.jobNotFound(ctx.params.job_id!));
    const state = jobState(j);
    return ctx.json(200, { state, message: state === j.outcome ? j.message : state === 'PENDING' ? 'Job is queued.' : 'Job is running.' });
  }

  // ---- routes: multipart ----
  async function startSession(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const body = await jsonBody(ctx);
    if (!body) return;
    const size = body.file_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      return fail(ctx, 400, MESSAGES.invalidBody("'file_size' must be a non-negative integer"));
    }
    let b: AihubBatch | undefined;
    let filename: string;
    if (body.batch_id !== undefined) {
      if (typeof body.filename !== 'string') return fail(ctx, 400, MESSAGES.invalidBody("'filename' must be a string"));
      filename = body.filename;
      b = batchOf(body.batch_id);
      if (!b) return fail(ctx, 404, MESSAGES.batchNotFound(String(body.batch_id)));
    } else if (typeof body.path === 'string') {
      // The older guide's form: a drive path ending <path_suffix>/<filename> (or <batch id>/<filename>).
      const path = body.path.replace(/^\/+/, '');
      const cut = path.lastIndexOf('/');
      if (cut <= 0) return fail(ctx, 400, MESSAGES.invalidBody("'path' must end with <batch>/<filename>"));
      filename = path.slice(cut + 1);
      const folder = path.slice(0, cut);
      b = [...batches.values()].find((x) => folder === x.path_suffix || folder.endsWith(`/${x.path_suffix}`));
      const byId = /(?:^|\/)(\d+)$/.exec(folder);
      if (!b && byId) b = batches.get(Number(byId[1]));
      if (!b) return fail(ctx, 404, MESSAGES.batchNotFound(folder));
    } else {
      return fail(ctx, 400, MESSAGES.invalidBody("give 'batch_id' and 'filename', or 'path'"));
    }
    noteBatch(ctx, b);
    if (nameProblem(filename)) return fail(ctx, 400, MESSAGES.invalidFilename(filename));
    if (size > LIMITS.maxFileSize) return fail(ctx, 413, 'The file is too large.');
    const s: Session = {
      id: randomBytes(12).toString('hex'),
      batch_id: b.id,
      filename,
      file_size: size,
      part_size: opts.partSize,
      parts: new Map(),
      acked: 0,
      committing: false,
    };
    sessions.set(s.id, s);
    counters.sessionsStarted++;
    return ctx.json(201, { session_id: s.id, part_size: s.part_size }, { location: `${core.origin}${AIHUB_BASE}/batches/multipart-upload/sessions/${s.id}` });
  }

  async function putPart(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const s = sessions.get(ctx.params.session_id!);
    if (!s) return fail(ctx, 404, MESSAGES.sessionNotFound(ctx.params.session_id!));
    const b = batches.get(s.batch_id);
    if (b) noteBatch(ctx, b);
    const raw = ctx.params.part_num!;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    const max = expectedParts(s.file_size, s.part_size);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) return fail(ctx, 400, MESSAGES.partOutOfRange(Number.isNaN(n) ? 0 : n, max));
    if (PARTS_IN_ORDER && n > s.acked + 1) {
      counters.partsOutOfOrder++;
      return fail(ctx, 400, MESSAGES.partOutOfOrder(n, s.acked + 1));
    }
    const want = expectedPartSize(s.file_size, s.part_size, n);
    const ing = await ingestBody(ctx, want);
    if (!ing) return ctx.destroy();
    if (ing.size !== want) {
      await core.store.discard(ing);
      return fail(ctx, 400, MESSAGES.partWrongSize(n, ing.size, want));
    }
    if (sessions.get(s.id) !== s) {
      await core.store.discard(ing);
      return fail(ctx, 404, MESSAGES.sessionNotFound(s.id));
    }
    const prev = s.parts.get(n);
    const part: SessionPart = { part_id: ++partSeq, path: ing.path, size: ing.size };
    s.parts.set(n, part);
    if (prev) await core.store.discard(prev.path);
    while (s.parts.has(s.acked + 1)) s.acked++;
    counters.partsReceived++;
    return ctx.json(201, { part_id: part.part_id, part_num: n });
  }

  async function sessionAction(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const s = sessions.get(ctx.params.session_id!);
    if (!s) return fail(ctx, 404, MESSAGES.sessionNotFound(ctx.params.session_id!));
    const body = await jsonBody(ctx);
    if (!body) return;
    const b = batches.get(s.batch_id);
    if (b) noteBatch(ctx, b);
    if (body.action === 'abort') {
      await dropSession(s.id);
      counters.sessionsAborted++;
      return ctx.send(204, {});
    }
    if (body.action !== 'commit') return fail(ctx, 400, MESSAGES.badAction);
    if (s.committing) return fail(ctx, 409, 'A commit of this session is in progress.');
    const problem = coverage(s, body.parts);
    if (problem) return fail(ctx, 400, MESSAGES.commitIncomplete(problem));
    if (!b) {
      await dropSession(s.id);
      return fail(ctx, 404, MESSAGES.batchNotFound(String(s.batch_id)));
    }
    s.committing = true;
    const w = core.store.tempWriter();
    try {
      for (let n = 1; n <= expectedParts(s.file_size, s.part_size); n++) {
        const p = s.parts.get(n);
        if (!p) continue; // an empty file: no part bodies
        for await (const chunk of createReadStream(p.path) as AsyncIterable<Buffer>) {
          if (w.write(chunk)) await w.drained();
        }
      }
      const ing = await w.finish();
      await accept(b, s.filename, ing, 'multipart');
    } catch (err) {
      await w.discard();
      s.committing = false;
      throw err;
    }
    await dropSession(s.id);
    counters.sessionsCommitted++;
    return ctx.send(204, {});
  }

  /** Why a commit's part list does not cover the file, or undefined. */
  function coverage(s: Session, raw: unknown): string | undefined {
    if (!Array.isArray(raw)) return "'parts' must be a list of {part_num, part_id}";
    const want = expectedParts(s.file_size, s.part_size);
    const seen = new Map<number, unknown>();
    for (const p of raw as unknown[]) {
      const o = (p ?? {}) as Record<string, unknown>;
      const n = Number(o.part_num);
      if (!Number.isSafeInteger(n) || n < 1) return 'every part needs an integer part_num';
      if (seen.has(n)) return `part ${n} is listed twice`;
      seen.set(n, o.part_id);
    }
    for (let n = 1; n <= want; n++) {
      if (!seen.has(n)) return `part ${n} is missing (the file has ${want} part(s))`;
      const have = s.parts.get(n);
      if (!have) return `part ${n} was never uploaded`;
      if (String(seen.get(n)) !== String(have.part_id)) return `part ${n} has part_id ${String(seen.get(n))}; the latest upload of it is ${have.part_id}`;
    }
    for (const n of seen.keys()) if (n > want) return `part ${n} is beyond the end of the file (${want} part(s))`;
    return undefined;
  }

  // ---- routes: runs ----
  async function startRun(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const body = await jsonBody(ctx);
    if (!body) return;
    const appName = typeof body.app_name === 'string' && body.app_name ? body.app_name : undefined;
    const appId = typeof body.app_id === 'string' && body.app_id ? body.app_id : undefined;
    if (!appName && !appId) return fail(ctx, 400, MESSAGES.runNeedsApp);
    if (body.batch_id === undefined || body.batch_id === null) {
      return fail(ctx, 400, body.input_dir !== undefined ? MESSAGES.inputDirUnsupported : MESSAGES.runNeedsInput);
    }
    const b = batchOf(body.batch_id);
    if (!b) return fail(ctx, 404, MESSAGES.batchNotFound(String(body.batch_id)));
    noteBatch(ctx, b);
    const files = Object.values(b.files).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const run: Run = {
      id: randomUUID(),
      app_name: appName,
      app_id: appId,
      batch_id: b.id,
      created: Date.now(),
      durationMs: Math.max(SANDBOX.runMinMs, files.length * core.processMsPerImage),
      files: files.map((f) => ({ ...f })),
      failed: files.length === 0 ? MESSAGES.runEmptyBatch : undefined,
    };
    runs.set(run.id, run);
    return ctx.json(200, runView(run));
  }

  async function getRun(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const r = runs.get(ctx.params.run_id!);
    if (!r) return fail(ctx, 404, MESSAGES.runNotFound(ctx.params.run_id!));
    return ctx.json(200, runView(r));
  }

  async function runResults(ctx: RequestContext): Promise<void> {
    if (!(await enter(ctx))) return;
    const r = runs.get(ctx.params.run_id!);
    if (!r) return fail(ctx, 404, MESSAGES.runNotFound(ctx.params.run_id!));
    const raw = ctx.url.searchParams.get('file_offset') ?? '0';
    if (!/^\d+$/.test(raw)) return fail(ctx, 400, 'file_offset must be a non-negative integer.');
    const offset = Number(raw);
    const view = runView(r);
    // Only files the app has finished are reported (all of them once the run is COMPLETE).
    const done = r.files.slice(0, view.progress!.completed);
    const page = done.slice(offset, offset + opts.resultsPageSize);
    return ctx.json(200, {
      id: r.id,
      status: view.status,
      files: page.map((f) => ({
        original_file_name: f.name,
        documents: [{ name: f.name, size: f.size, detected_type: f.detected_type }],
      })),
      has_more: offset + page.length < done.length,
    });
  }

  const B = `${AIHUB_BASE}/batches`;
  const protocol: Protocol = {
    name: 'aihub',
    routes: [
      // Literal paths before parameterised ones of the same shape.
      { method: 'POST', path: `${B}/multipart-upload`, name: 'aihub.multipart.start', faults: true, handle: startSession },
      { method: 'PUT', path: `${B}/multipart-upload/sessions/:session_id/parts/:part_num`, name: 'aihub.multipart.part', faults: true, handle: putPart },
      { method: 'POST', path: `${B}/multipart-upload/sessions/:session_id`, name: 'aihub.multipart.session', faults: true, handle: sessionAction },
      { method: 'GET', path: `${B}/jobs/:job_id`, name: 'aihub.jobs.get', faults: true, handle: getJob },
      { method: 'GET', path: `${AIHUB_BASE}/jobs/:job_id`, name: 'aihub.jobs.get', faults: true, handle: getJob },
      { method: 'POST', path: B, name: 'aihub.batches.create', faults: true, handle: createBatch },
      { method: 'GET', path: B, name: 'aihub.batches.list', faults: true, handle: listBatches },
      { method: 'GET', path: `${B}/:id`, name: 'aihub.batches.get', faults: true, handle: getBatch },
      { method: 'DELETE', path: `${B}/:id`, name: 'aihub.batches.delete', faults: true, handle: deleteBatch },
      { method: 'GET', path: `${B}/:id/files`, name: 'aihub.files.list', faults: true, handle: listFiles },
      { method: 'PUT', path: `${B}/:id/files/:filename`, name: 'aihub.files.put', faults: true, handle: putFile },
      { method: 'DELETE', path: `${B}/:id/files/:filename`, name: 'aihub.files.delete', faults: true, handle: deleteFile },
      { method: 'POST', path: `${AIHUB_BASE}/apps/runs`, name: 'aihub.runs.start', faults: true, handle: startRun },
      { method: 'GET', path: `${AIHUB_BASE}/apps/runs/:run_id`, name: 'aihub.runs.get', faults: true, handle: getRun },
      { method: 'GET', path: `${AIHUB_BASE}/apps/runs/:run_id/results`, name: 'aihub.runs.results', faults: true, handle: runResults },
      {
        method: 'GET',
        path: '/_sandbox/aihub',
        name: 'sandbox.aihub',
        counted: false,
        handle: (ctx) => {
          tick();
          return ctx.json(200, {
            ...counters,
            options: opts,
            open_sessions: sessions.size,
            jobs: jobs.size,
            runs: runs.size,
            batches: [...batches.values()].map((b) => ({ ...info(b), files: Object.keys(b.files).length })),
          });
        },
      },
    ],
    errorBody: (_status, message) => ({ message }),
    batchCount: () => batches.size,
    inspectBatch(id) {
      const m = /^aihub-(\d+)$/.exec(id);
      if (!m) return undefined;
      tick();
      const b = batches.get(Number(m[1]));
      if (!b) return undefined;
      return {
        protocol: 'aihub',
        ...info(b),
        contexts: b.contexts,
        files: Object.values(b.files)
          .sort((x, y) => (x.name < y.name ? -1 : 1))
          .map((f) => ({ ...f, url: core.cdnUrl(f.sha256, f.ext) })),
      };
    },
    async close() {
      await writing;
      for (const id of [...sessions.keys()]) await dropSession(id);
    },
  };
  return protocol;
}
