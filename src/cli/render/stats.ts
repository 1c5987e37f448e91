/**
 * The stats object every human renderer reads from (rclone style): events update it, a timer
 * pulls a snapshot from it. Pure — no I/O, no clock of its own.
 */
import type { BatchupEvent, UploadMode } from '../../core/events.js';
import type { EntryStatus } from '../../core/manifest.js';

export type BatchState = 'planned' | 'uploading' | 'submitted' | 'polling' | 'done' | 'failed';

export interface BatchStats {
  batchId: string;
  mode?: UploadMode;
  files: number;
  bytes: number;
  state: BatchState;
  /** Latest bytes sent per source (a retry resets a file's count). */
  sent: Map<string, number>;
  /** Bytes per source the server already had from an earlier run (a resumed upload): not sent now. */
  had: Map<string, number>;
  /** Size per source of the files whose bytes are moving (sent < total). */
  sizes: Map<string, number>;
  processed: number;
  total: number;
  pollStatus?: string;
}

export const FINAL_RENDER = new Set(['COMPLETED', 'COMPLETE', 'FAILED']);
const IN_FLIGHT: ReadonlySet<BatchState> = new Set(['uploading', 'submitted', 'polling']);

export class Stats {
  candidates = 0;
  provider?: string;
  dryRun = false;
  planned = false;
  plannedBatches = 0;
  plannedFiles = 0;
  plannedImages = 0;
  plannedBytes = 0;
  /** Inputs still being validated while the run plans as it goes (their size on disk). */
  unplanned = { files: 0, bytes: 0 };
  retries = 0;
  manifestPath?: string;
  readonly batches = new Map<string, BatchStats>();
  /** Outputs the server works on (blurb renders), by renderId: their latest state. */
  readonly renders = new Map<string, { batchId: string; source: string; status: string; progress: number; message?: string }>();
  /** Final status of each source that has an outcome. */
  readonly #outcomes = new Map<string, EntryStatus>();
  /**
   * Sources skipped before any other outcome came: only counted, until another one comes (it may
   * be one of theirs: a `result` of a skipped input). A rerun of 100,000 unchanged files says
   * nothing else of them, and a map entry each cost it ~50 ms. (The run skips an input once.)
   */
  #skips: string[] = [];
  /** Outcomes by status (kept as they change: a frame never counts the whole map). */
  readonly #counts: Record<EntryStatus, number> = { uploaded: 0, skipped: 0, rejected: 0, failed: 0 };
  /** Batches uploading, submitted or polling. */
  #inFlight = 0;
  /** Bytes sent by batches that ended (their per-file maps are dropped). */
  #endedBytes = 0;
  authFailures = 0;

  #skipped(source: string): void {
    if (this.#outcomes.size) return this.#outcome(source, 'skipped');
    this.#skips.push(source);
    this.#counts.skipped++;
  }

  #outcome(source: string, status: EntryStatus): void {
    if (this.#skips.length) {
      for (const s of this.#skips) this.#outcomes.set(s, 'skipped');
      this.#skips = [];
    }
    const old = this.#outcomes.get(source);
    if (old === status) return;
    if (old) this.#counts[old]--;
    this.#counts[status]++;
    this.#outcomes.set(source, status);
  }

  #state(b: BatchStats, state: BatchState): void {
    const was = IN_FLIGHT.has(b.state);
    b.state = state;
    this.#inFlight += (IN_FLIGHT.has(state) ? 1 : 0) - (was ? 1 : 0);
    if (state !== 'done' && state !== 'failed') return;
    // An ended batch moves no more bytes: keep its total, not a number per file.
    this.#endedBytes += Math.max(0, sum(b.sent) - sum(b.had));
    b.sent.clear();
    b.had.clear();
    b.sizes.clear();
  }

  update(e: BatchupEvent): void {
    switch (e.type) {
      case 'scan':
        this.candidates = e.candidates;
        break;
      case 'reject':
        this.#outcome(e.rejection.source, 'rejected');
        break;
      case 'skip':
        this.#skipped(e.source);
        break;
      case 'plan':
        this.planned = true;
        this.provider = e.provider;
        this.dryRun = e.dryRun;
        // A run that plans as it validates sends a plan per window: they add up.
        this.plannedBatches += e.batches.length;
        this.plannedFiles += e.batches.reduce((n, b) => n + b.files, 0);
        this.plannedImages += e.batches.reduce((n, b) => n + (b.images || b.files), 0);
        this.plannedBytes += e.batches.reduce((n, b) => n + b.bytes, 0);
        this.unplanned = e.more ?? { files: 0, bytes: 0 };
        for (const b of e.batches) {
          if (!this.batches.has(b.batchId)) this.batches.set(b.batchId, newBatch(b.batchId, b.files, b.bytes, b.mode));
        }
        break;
      case 'batch-start': {
        const b = this.batch(e.batchId);
        b.mode = e.mode;
        b.files = e.files;
        b.bytes = e.bytes;
        this.#state(b, 'uploading');
        break;
      }
      case 'file-progress': {
        const b = this.batch(e.batchId);
        if (b.state === 'done' || b.state === 'failed') break;
        if (b.state === 'planned') this.#state(b, 'uploading');
        b.sent.set(e.source, Math.max(0, Math.min(e.sent, e.total || e.sent)));
        if (e.resumed) b.had.set(e.source, e.resumed);
        b.sizes.set(e.source, e.total);
        break;
      }
      case 'batch-submitted': {
        const b = this.batch(e.batchId);
        if (b.state !== 'done' && b.state !== 'failed') this.#state(b, 'submitted');
        break;
      }
      case 'retry':
        this.retries++;
        break;
      case 'poll': {
        const b = this.batch(e.batchId);
        if (b.state !== 'done' && b.state !== 'failed') this.#state(b, 'polling');
        b.processed = e.processed;
        b.total = e.total;
        b.pollStatus = e.status;
        break;
      }
      case 'render-progress':
        this.renders.set(e.renderId, { batchId: e.batchId, source: e.source, status: e.status, progress: e.progress, message: e.message });
        break;
      case 'result':
        this.#outcome(e.entry.source, e.entry.status);
        if (e.entry.status === 'failed' && e.entry.code === 'AUTH') this.authFailures++;
        break;
      case 'batch-done':
        this.#state(this.batch(e.batchId), 'done');
        break;
      case 'batch-failed':
        this.#state(this.batch(e.batchId), 'failed');
        if (e.code === 'AUTH') this.authFailures++;
        break;
      case 'manifest':
        this.manifestPath = e.path;
        break;
      case 'summary':
        break;
    }
  }

  private batch(id: string): BatchStats {
    let b = this.batches.get(id);
    if (!b) {
      b = newBatch(id, 0, 0);
      this.batches.set(id, b);
    }
    return b;
  }

  count(status: EntryStatus): number {
    return this.#counts[status];
  }

  get filesDone(): number {
    return this.#outcomes.size + this.#skips.length;
  }

  /** Rejected + skipped (known before the plan) + every image the plan will yield. */
  get filesTotal(): number {
    const early = this.count('rejected') + this.count('skipped');
    return Math.max(this.filesDone, early + this.plannedImages + this.unplanned.files, this.candidates);
  }

  get bytesTotal(): number {
    return this.plannedBytes + this.unplanned.bytes;
  }

  /** Bytes sent by this run, as measured by the files' progress (what the server already had is not counted). */
  get bytesSent(): number {
    let n = this.#endedBytes;
    for (const b of this.batches.values()) if (b.sent.size) n += Math.max(0, sum(b.sent) - sum(b.had));
    return n;
  }

  /** Renders not finished yet (COMPLETED, COMPLETE and FAILED are final). */
  get rendersActive(): number {
    let n = 0;
    for (const r of this.renders.values()) if (!FINAL_RENDER.has(r.status)) n++;
    return n;
  }

  get batchesInFlight(): number {
    return this.#inFlight;
  }

  get uploadingBatches(): BatchStats[] {
    return [...this.batches.values()].filter((b) => b.state === 'uploading');
  }

  get pollingBatches(): BatchStats[] {
    return [...this.batches.values()].filter((b) => b.state === 'polling');
  }

  /** Items the server reported processed, over every batch it was asked about. */
  get processed(): { done: number; total: number } {
    let done = 0;
    let total = 0;
    for (const b of this.batches.values()) {
      if (!b.total) continue;
      done += b.processed;
      total += b.total;
    }
    return { done, total };
  }
}

function newBatch(batchId: string, files: number, bytes: number, mode?: UploadMode): BatchStats {
  return { batchId, files, bytes, mode, state: 'planned', sent: new Map(), had: new Map(), sizes: new Map(), processed: 0, total: 0 };
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
