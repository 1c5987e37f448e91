/**
 * The typed event stream from core to the renderers (TTY bars, plain lines, NDJSON).
 * Field names are stable: `--json` prints these objects as they are, one per line.
 */
import type { Rejection } from './types.js';
import type { ManifestEntry, RunSummary } from './manifest.js';

export type { RunSummary };

/** The upload path a provider took, in its own words (bach `sync`/`async`, hybrid `put`/`chunked`, …). */
export type UploadMode = string;

export interface PlannedBatch {
  /** Deterministic client-side batch id (sent as `batch_id`). */
  batchId: string;
  mode: UploadMode;
  /** Why this mode was chosen, in words (printed by --dry-run). */
  reason: string;
  files: number;
  /** Images this batch yields once ZIPs are expanded. */
  images: number;
  bytes: number;
  sources: string[];
}

export type BatchupEvent =
  | { type: 'scan'; candidates: number }
  | { type: 'reject'; rejection: Rejection }
  | { type: 'skip'; source: string; reason: string }
  /** An input of an earlier run that is no longer among the inputs (dropped with --prune). */
  | { type: 'gone'; source: string; pruned: boolean }
  /**
   * Batches as they are planned. A run that plans while it validates sends one per window:
   * `more` (files and bytes still to validate, by their size on disk) until the last.
   */
  | { type: 'plan'; provider: string; batches: PlannedBatch[]; dryRun: boolean; more?: { files: number; bytes: number } }
  /** `resumed`: an interrupted run announced it; what the server has is looked up before anything is sent. */
  | { type: 'batch-start'; batchId: string; mode: UploadMode; files: number; bytes: number; resumed?: boolean }
  /** Bytes of one file sent so far within its batch request (fires as the body streams). */
  /** `resumed`: bytes of it the server already had from an earlier run (not sent by this one). */
  | { type: 'file-progress'; batchId: string; source: string; sent: number; total: number; resumed?: number }
  | { type: 'batch-submitted'; batchId: string; mode: UploadMode; attempt: number }
  | { type: 'retry'; batchId: string; attempt: number; delayMs: number; error: string; code: string; status?: number }
  | { type: 'poll'; batchId: string; status: string; processed: number; total: number }
  /** One output of a job the server works on (a blurb render): its state changed. `progress` 0–100, `message` the server's words. */
  | { type: 'render-progress'; batchId: string; renderId: string; source: string; status: string; progress: number; message?: string }
  | { type: 'result'; entry: ManifestEntry }
  | { type: 'batch-done'; batchId: string; uploaded: number; failed: number }
  | { type: 'batch-failed'; batchId: string; error: string; code: string; files: number }
  /** The whole run stopped on one cause (the API unreachable, credentials refused): what follows are its consequences. */
  | { type: 'stopped'; error: string; code: string }
  /** --download saved an output (`path`), skipped it (`note`) or could not (`error`). */
  | { type: 'download'; source: string; path?: string; note?: string; error?: string }
  | { type: 'manifest'; path: string }
  | { type: 'summary'; summary: RunSummary };

export type Emit = (event: BatchupEvent) => void;
