/**
 * aihub's state and the gate every route passes (auth, IB-Context counting, time ticks).
 *
 * - Batches and their files persist, one record per batch under `<data>/aihub/batches/`, the next
 *   batch id under `aihub/meta/` (a deleted batch's id is never handed out again). Sessions, jobs
 *   and runs live in memory: a restarted sandbox has forgotten them, like an expired session.
 * - Files become content-addressed objects only when accepted (PUT complete, or a commit that
 *   covers the file). Same name again replaces. Every accepted file PUT and every committed
 *   session counts as a receipt, so a file sent twice shows in the stats.
 * - Delete jobs take effect when they end (their states walk over time: kit/job-clock.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MESSAGES, SANDBOX, type BatchInfo } from '../../../providers/aihub/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { jobAt } from '../../kit/job-clock.js';
import { sniffExt } from '../../kit/media.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { JsonRecords } from '../../kit/records.js';
import type { Ingested } from '../../kit/store.js';
import { fail } from './replies.js';
import type { AihubBatch, AihubFile, AihubOptions, AihubStats } from './types.js';

export interface SessionPart {
  part_id: number;
  path: string;
  size: number;
}

export interface Session {
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

export interface Job {
  id: string;
  created: number;
  batch_id: number;
  filename?: string;
  outcome: 'COMPLETE' | 'FAILED';
  message: string;
  applied: boolean;
}

export interface Run {
  id: string;
  app_name?: string;
  app_id?: string;
  batch_id: number;
  created: number;
  durationMs: number;
  files: AihubFile[];
  failed?: string;
}

interface IdCounter {
  id: string;
  next: number;
}
const BATCH_IDS = 'batch-ids';

export class AihubState {
  readonly sessions = new Map<string, Session>();
  readonly jobs = new Map<string, Job>();
  readonly runs = new Map<string, Run>();
  readonly counters: AihubStats = { contexts: {}, partsReceived: 0, partsOutOfOrder: 0, sessionsStarted: 0, sessionsCommitted: 0, sessionsAborted: 0 };
  private partSeq = 0;
  /** Past every id handed out (also past every stored batch, should the counter's last write have been lost). */
  private nextId: number;

  private constructor(
    readonly core: SandboxCore,
    readonly opts: AihubOptions,
    private readonly batches: JsonRecords<AihubBatch>,
    private readonly ids: JsonRecords<IdCounter>,
  ) {
    this.nextId = Math.max(ids.get(BATCH_IDS)?.next ?? 1, ...[...batches.values()].map((b) => b.id + 1));
  }

  static async open(core: SandboxCore, opts: AihubOptions): Promise<AihubState> {
    const dir = join(core.dataDir, 'aihub');
    const log = (line: string) => core.log(`aihub: ${line}`);
    const batches = await JsonRecords.open<AihubBatch>(join(dir, 'batches'), {
      idOf: (b) => String(b.id),
      accept: (raw): raw is AihubBatch => typeof (raw as AihubBatch)?.id === 'number' && typeof (raw as AihubBatch).files === 'object',
      log,
    });
    const ids = await JsonRecords.open<IdCounter>(join(dir, 'meta'), { idOf: (c) => c.id, fileNameOf: (id) => id, log });
    await adoptLegacyState(join(dir, 'state.json'), batches, ids);
    for (const b of batches.values()) for (const f of Object.values(b.files)) core.stats.receipt(f.sha256);
    return new AihubState(core, opts, batches, ids);
  }

  get batchCount(): number {
    return this.batches.size;
  }

  allBatches(): AihubBatch[] {
    return [...this.batches.values()].sort((a, b) => a.id - b.id);
  }

  /** The batch an id from a path or a body names (digits only), if it exists. */
  batchOf(raw: unknown): AihubBatch | undefined {
    const s = String(raw ?? '');
    return /^\d+$/.test(s) ? this.batches.get(s) : undefined;
  }

  async createBatch(name: string, workspace: string | undefined, ctx: RequestContext): Promise<AihubBatch> {
    const now = this.core.now();
    const b: AihubBatch = {
      id: this.nextId++,
      name,
      workspace: workspace || SANDBOX.defaultWorkspace,
      created_at_ms: now,
      updated_at_ms: now,
      path_suffix: `file-batches/${randomUUID()}`,
      files: {},
      contexts: {},
    };
    this.noteBatch(ctx, b);
    await Promise.all([this.ids.put({ id: BATCH_IDS, next: this.nextId }), this.batches.put(b)]);
    return b;
  }

  info(b: AihubBatch): BatchInfo {
    return {
      id: b.id,
      name: b.name,
      workspace: b.workspace,
      mount_point: SANDBOX.mountPoint,
      repo_owner: SANDBOX.owner,
      batch_owner: SANDBOX.owner,
      created_at_ms: b.created_at_ms,
      updated_at_ms: b.updated_at_ms,
      path_suffix: b.path_suffix,
    };
  }

  /** A received file becomes the batch's file of that name (replacing any), stored and counted. */
  async accept(b: AihubBatch, name: string, ing: Ingested, via: AihubFile['via']): Promise<void> {
    const { sha256, size } = await this.core.store.commit(ing);
    const { detected, ext } = detect(ing.head, name);
    this.core.stats.receipt(sha256);
    const now = this.core.now();
    b.files[name] = { name, sha256, size, ext, detected_type: detected, via, updated_at_ms: now };
    b.updated_at_ms = now;
    await this.batches.save(String(b.id));
  }

  /** The request body streamed to a temp file (at most `limit` bytes kept); undefined when the client went away. */
  async ingestBody(ctx: RequestContext, limit: number): Promise<Ingested | undefined> {
    try {
      const ing = await this.core.store.ingest(ctx.req as AsyncIterable<Buffer>, limit);
      if (!ctx.req.complete) {
        await this.core.store.discard(ing);
        return undefined;
      }
      return ing;
    } catch {
      return undefined;
    }
  }

  nextPartId(): number {
    return ++this.partSeq;
  }

  // ---- the gate ----

  /** Auth + bookkeeping every route does first; false when it already answered. */
  async enter(ctx: RequestContext): Promise<boolean> {
    this.tick();
    const c = ibContext(ctx);
    this.counters.contexts[c] = (this.counters.contexts[c] ?? 0) + 1;
    if (!(await ctx.authorized())) {
      await fail(ctx, 401, MESSAGES.unauthorized);
      return false;
    }
    return true;
  }

  /** enter(), then the batch of the :id route (noted); undefined when it already answered. */
  async enterBatch(ctx: RequestContext): Promise<AihubBatch | undefined> {
    if (!(await this.enter(ctx))) return undefined;
    const b = this.batchOf(ctx.params.id);
    if (!b) {
      await fail(ctx, 404, MESSAGES.batchNotFound(ctx.params.id!));
      return undefined;
    }
    this.noteBatch(ctx, b);
    return b;
  }

  /** Counts the request's IB-Context on the batch it addresses. */
  noteBatch(ctx: RequestContext, b: AihubBatch): void {
    const c = ibContext(ctx);
    b.contexts[c] = (b.contexts[c] ?? 0) + 1;
  }

  // ---- time ----

  /** A delete job's state at `now`: PENDING, RUNNING (jobStepMs each), then its outcome. */
  jobState(j: Job, now = this.core.now()): string {
    const step = this.opts.jobStepMs;
    return jobAt(
      j.created,
      [
        { state: 'PENDING', ms: step },
        { state: 'RUNNING', ms: step },
      ],
      j.outcome,
      now,
    ).state;
  }

  /** Applies the delete jobs that have ended since the last tick. */
  tick(now = this.core.now()): void {
    for (const j of this.jobs.values()) {
      if (j.applied || this.jobState(j, now) !== j.outcome) continue;
      j.applied = true;
      if (j.outcome !== 'COMPLETE') continue;
      const b = this.batches.get(String(j.batch_id));
      if (!b) continue;
      if (j.filename === undefined) {
        void this.batches.delete(String(b.id)).catch(() => undefined);
        for (const [sid, s] of this.sessions) if (s.batch_id === b.id) void this.dropSession(sid);
      } else {
        delete b.files[j.filename];
        b.updated_at_ms = now;
        void this.batches.save(String(b.id)).catch(() => undefined);
      }
    }
  }

  async dropSession(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    await Promise.all([...s.parts.values()].map((p) => this.core.store.discard(p.path)));
  }

  async close(): Promise<void> {
    await this.batches.flush();
    await this.ids.flush();
    for (const id of [...this.sessions.keys()]) await this.dropSession(id);
  }
}

const ibContext = (ctx: RequestContext) => {
  const v = ctx.req.headers['ib-context'];
  return typeof v === 'string' ? v : '';
};

function detect(head: Buffer, name: string): { detected: string; ext: string } {
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return { detected: 'pdf', ext: 'pdf' };
  const sniffed = sniffExt(head);
  if (sniffed === 'zip' && /\.docx$/i.test(name)) return { detected: 'docx', ext: 'docx' };
  return { detected: sniffed ?? 'unknown', ext: sniffed ?? 'bin' };
}

/** A data folder from before the per-batch records (one `state.json`): its batches and next id move over once. */
async function adoptLegacyState(path: string, batches: JsonRecords<AihubBatch>, ids: JsonRecords<IdCounter>): Promise<void> {
  let saved: { nextBatchId?: number; batches?: AihubBatch[] };
  try {
    saved = JSON.parse(await readFile(path, 'utf8')) as typeof saved;
  } catch {
    return; // none (or unreadable: nothing to adopt)
  }
  for (const b of saved.batches ?? []) if (!batches.has(String(b.id))) await batches.put(b);
  const next = saved.nextBatchId ?? 1;
  if ((ids.get(BATCH_IDS)?.next ?? 1) < next) await ids.put({ id: BATCH_IDS, next });
  await unlink(path);
}
