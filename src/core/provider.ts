/**
 * The provider adapter contract. Each protocol lives in src/providers/<name>/ and registers one
 * of these; core drives it without knowing the wire format.
 */
import type { Emit, PlannedBatch } from './events.js';
import type { Http } from './http.js';
import type { ManifestEntry } from './manifest.js';
import type { MemoryBudget } from './memory.js';
import type { AuthOptions, ModeChoice, UploadOptions } from './options.js';
import type { RetryPolicy } from './retry.js';
import type { Item, RejectRule, ValidationPolicy } from './types.js';

export interface BatchPlan extends PlannedBatch {
  items: Item[];
  /** Announced by an earlier run that did not see its results: look it up before submitting. */
  resumed?: boolean;
}

export interface PlanRequest {
  items: Item[];
  mode: ModeChoice;
  /** User-chosen batch id (one batch) or prefix (several). */
  batchId?: string;
  /** At most this many files per batch (below the provider's own limit): --batch-size. */
  maxBatchFiles?: number;
}

/**
 * Durable key-value state for a provider's sessions (upload ids, parts acknowledged). Backed by
 * the run's journal, so what is put here survives a crash and the next run finds it.
 */
export interface SessionState {
  get<T>(key: string): T | undefined;
  /**
   * Store (commit point: on disk before it returns); `null` deletes. With `untilBatchDone`, the
   * value is dropped by itself once that batch's results are recorded (it is only needed to
   * resume that batch).
   */
  put(key: string, value: unknown, opts?: { untilBatchDone?: string }): void;
}

/** A provider-specific CLI flag (e.g. aihub --batch-name), registered by the upload command. */
export interface ProviderFlag {
  /** commander syntax, e.g. '--batch-name <name>'. */
  flags: string;
  description: string;
  /** Key in UploadOptions.providerOptions. */
  key: string;
  /** Env variable that can supply it, e.g. BATCHUP_AIHUB_WORKSPACE. */
  env?: string;
}

export interface ProviderContext {
  endpoint: string;
  auth: AuthOptions;
  http: Http;
  emit: Emit;
  signal?: AbortSignal;
  options: UploadOptions;
  retry: Partial<RetryPolicy>;
  /** Injectable clock (ms since epoch). */
  now: () => number;
  state: SessionState;
  /** The run's --max-memory, shared by every batch and file that sends parts. */
  memory: MemoryBudget;
}

export interface Provider {
  name: string;
  defaultEndpoint: string;
  policy: ValidationPolicy;
  /** Whether the provider can take URL inputs, and whether it needs credentials. */
  capabilities: { urls: boolean; zips: boolean; modes: readonly ('sync' | 'async')[] };
  /** Extra upload flags this provider understands (values arrive in options.providerOptions). */
  flags?: ProviderFlag[];
  plan(req: PlanRequest): BatchPlan[];
  /** Checks once before any upload (e.g. that credentials are usable). */
  prepare?(ctx: ProviderContext): Promise<void>;
  /**
   * Upload one batch and wait until the server has processed it. Returns one manifest entry per
   * image (a ZIP's images each get their own). Never throws for per-item failures; throws a
   * BatchupError when the whole batch could not be submitted.
   */
  runBatch(batch: BatchPlan, ctx: ProviderContext): Promise<ManifestEntry[]>;
  /**
   * Inputs this provider must refuse that validation cannot see (they depend on the remote names
   * or on each other, e.g. aihub's name rules and duplicate names), with the rule and a sentence.
   * Optional and pure; when the pipeline calls it after naming, a dry run reports them too.
   */
  screen?(items: readonly Item[]): { item: Item; rule: RejectRule; detail: string }[];
  /**
   * Once every batch ran: extra top-level fields for the manifest (e.g. aihub's `runs`, the app
   * runs started on the uploaded batches). Optional; `undefined` adds nothing.
   */
  afterUpload?(ctx: ProviderContext, entries: ManifestEntry[]): Promise<Record<string, unknown> | undefined>;
}
