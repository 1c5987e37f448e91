/**
 * The stats object every human renderer reads from (rclone style): events update it, a timer
 * pulls a snapshot from it. Pure — no I/O, no clock of its own.
 */
import type { BatchupEvent, PlannedBatch, UploadMode } from '../../core/events.js';
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

export class Stats {
  candidates = 0;
  provider?: string;
  dryRun = false;
  planned = false;
  plannedBatches: PlannedBatch[] = [];
  plannedFiles = 0;
  plannedImages = 0;
  plannedBytes = 0;
  retries = 0;
  manifestPath?: string;
  readonly batches = new Map<string, BatchStats>();
  /** Outputs the server works on (blurb renders), by renderId: their latest state. */
  readonly renders = new Map<string, { batchId: string; source: string; status: string; progress: number; message?: string }>();
  /** Final status of each source that has an outcome. */
  readonly outcomes = new Map<string, EntryStatus>();
  authFailures = 0;

  update(e: BatchupEvent): void {
    switch (e.type) {
      case 'scan':
        this.candidates = e.candidates;
        break;
      case 'reject':
        this.outcomes.set(e.rejection.source, 'rejected');
        break;
      case 'skip':
        this.outcomes.set(e.source, 'skipped');
        break;
      case 'plan':
        this.planned = true;
        this.provider = e.provider;
        this.dryRun = e.dryRun;
        this.plannedBatches = e.batches;
        this.plannedFiles = e.batches.reduce((n, b) => n + b.files, 0);
        this.plannedImages = e.batches.reduce((n, b) => n + (b.images || b.files), 0);
        this.plannedBytes = e.batches.reduce((n, b) => n + b.bytes, 0);
        for (const b of e.batches) {
          if (!this.batches.has(b.batchId)) this.batches.set(b.batchId, newBatch(b.batchId, b.files, b.bytes, b.mode));
        }
        break;
      case 'batch-start': {
        const b = this.batch(e.batchId);
        b.mode = e.mode;
        b.files = e.files;
        b.bytes = e.bytes;
        b.state = 'uploading';
        break;
      }
      case 'file-progress': {
        const b = this.batch(e.batchId);
        if (b.state === 'planned') b.state = 'uploading';
        b.sent.set(e.source, Math.max(0, Math.min(e.sent, e.total || e.sent)));
        if (e.resumed) b.had.set(e.source, e.resumed);
        b.sizes.set(e.source, e.total);
        break;
      }
      case 'batch-submitted': {
        const b = this.batch(e.batchId);
        if (b.state !== 'done' && b.state !== 'failed') b.state = 'submitted';
        break;
      }
      case 'retry':
        this.retries++;
        break;
      case 'poll': {
        const b = this.batch(e.batchId);
        if (b.state !== 'done' && b.state !== 'failed') b.state = 'polling';
        b.processed = e.processed;
        b.total = e.total;
        b.pollStatus = e.status;
        break;
      }
      case 'render-progress':
        this.renders.set(e.renderId, { batchId: e.batchId, source: e.source, status: e.status, progress: e.progress, message: e.message });
        break;
      case 'result':
        this.outcomes.set(e.entry.source, e.entry.status);
        if (e.entry.status === 'failed' && e.entry.code === 'AUTH') this.authFailures++;
        break;
      case 'batch-done':
        this.batch(e.batchId).state = 'done';
        break;
      case 'batch-failed':
        this.batch(e.batchId).state = 'failed';
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
    let n = 0;
    for (const s of this.outcomes.values()) if (s === status) n++;
    return n;
  }

  get filesDone(): number {
    return this.outcomes.size;
  }

  /** Rejected + skipped (known before the plan) + every image the plan will yield. */
  get filesTotal(): number {
    const early = this.count('rejected') + this.count('skipped');
    return Math.max(this.filesDone, early + this.plannedImages, this.candidates);
  }

  get bytesTotal(): number {
    return this.plannedBytes;
  }

  /** Bytes sent by this run, as measured by the files' progress (what the server already had is not counted). */
  get bytesSent(): number {
    let n = 0;
    for (const b of this.batches.values()) n += Math.max(0, sum(b.sent) - sum(b.had));
    return n;
  }

  /** Renders not finished yet (COMPLETED, COMPLETE and FAILED are final). */
  get rendersActive(): number {
    let n = 0;
    for (const r of this.renders.values()) if (!FINAL_RENDER.has(r.status)) n++;
    return n;
  }

  get batchesInFlight(): number {
    let n = 0;
    for (const b of this.batches.values()) {
      if (b.state === 'uploading' || b.state === 'submitted' || b.state === 'polling') n++;
    }
    return n;
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
