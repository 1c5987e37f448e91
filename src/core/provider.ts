/**
 * The provider contract. Each protocol lives in src/providers/<name>/ and exports one
 * `ProviderModule` that declares everything about itself — its flags (and their typed parsing),
 * what inputs it takes (the pipeline enforces it), where the sandbox serves it, its credentials,
 * its management subcommands — and opens one `ProviderRun` per upload, which holds the run's own
 * state. Core drives it without knowing the wire format and never imports a provider: the CLI
 * picks the module from the registry and hands it to `runUpload`.
 */
import type { Emit, PlannedBatch } from './events.js';
import type { Credentials, Http } from './http.js';
import type { ManifestEntry } from './manifest.js';
import type { MemoryBudget } from './memory.js';
import type { AuthOptions, ModeChoice } from './options.js';
import type { RetryInfo, RetryPolicy } from './retry.js';
import type { Candidate, InputKind, Item, RejectRule, Rejection, ValidationPolicy } from './types.js';

export interface BatchPlan extends PlannedBatch {
  items: Item[];
  /** Announced by an earlier run that did not see its results: look it up before submitting. */
  resumed?: boolean;
  /** When a resumed batch was announced (ms since epoch): the server made its results after that. */
  announcedAt?: number;
}

export interface PlanRequest {
  items: Item[];
  mode: ModeChoice;
  /** User-chosen batch id (one batch) or prefix (several). */
  batchId?: string;
  /** At most this many files per batch (below the provider's own limit): --batch-size. */
  maxBatchFiles?: number;
  /** The state's salt for derived batch ids (see derivedBatchId). */
  salt?: string;
  /**
   * One window of a run planned as it validates (batch-stream.ts): more items come in later
   * calls, so choices that depend on the run's size are made as for a large run.
   */
  partial?: boolean;
}

/**
 * Durable key-value state for a provider's handles (upload ids, parts acknowledged, jobs the
 * server assigned an id to). Backed by the run's journal, so what is put here survives a crash
 * and the next run finds it.
 */
export interface SessionState {
  get<T>(key: string): T | undefined;
  /**
   * Store (commit point: on disk before it returns); `null` deletes. With `untilBatchDone`, the
   * value is dropped by itself once that batch's results are recorded.
   */
  put(key: string, value: unknown, opts?: { untilBatchDone?: string }): void;
}

/** A provider-specific command-line flag (e.g. aihub --batch-name); core never sees commander. */
export interface FlagSpec {
  /** commander syntax, e.g. '--batch-name <name>' or '--no-wait'. */
  flags: string;
  description: string;
  /** Key of the value in the flag values handed to `options()`. */
  key: string;
  /** Env variable that can supply it, e.g. BATCHUP_AIHUB_WORKSPACE. */
  env?: string;
  /** The command cannot run without it. */
  required?: boolean;
  /** Repeatable: the values arrive as a list. */
  repeatable?: boolean;
}

/** Flag values by key (flag > env), as typed on the command line. */
export type FlagValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** What the pipeline enforces before a file is read. */
export interface Capabilities {
  /** Kinds of input it takes; the others are refused (unsupported-type) before validation. */
  inputs: readonly InputKind[];
  /** `--mode` values it takes besides `auto`. */
  modes: readonly Exclude<ModeChoice, 'auto'>[];
  /** The server announces its windows in RateLimit-* headers: learn them from the first answer before a burst. */
  rateLimitHeaders?: boolean;
  /**
   * Its batches are independent and hold at most this many inputs: the pipeline then plans them
   * while it validates, a window at a time (batch-stream.ts), and `screen` and `check` see one
   * window at a time too. Without it, the run is planned once, over the whole set (a provider
   * whose screen needs every input, as aihub's unique names do, declares none).
   */
  batchLimit?: number;
}

/** The run-wide settings a provider may read (not its own options). */
export interface RunSettings {
  /** Batches (or files, for one-batch providers) in flight. */
  concurrency: number;
  /** --batch-id, when given. */
  batchId?: string;
  /** --max-memory as given (undefined: the default budget). */
  maxMemory?: number;
  /** --force: do everything again, ignoring what the journal holds. */
  force?: boolean;
  /** --sandbox: the endpoint is an in-process sandbox (it can host a provider's local assets). */
  sandbox?: boolean;
  cwd: string;
  poll: { initialMs: number; maxMs: number; timeoutMs: number };
}

export interface ProviderContext<O = unknown> {
  endpoint: string;
  http: Http;
  emit: Emit;
  signal: AbortSignal;
  /** The provider's own typed options (from `options()`). */
  options: O;
  run: RunSettings;
  retry: Partial<RetryPolicy>;
  /** Injectable clock (ms since epoch). */
  now: () => number;
  state: SessionState;
  /** The run's --max-memory, shared by every batch and file that sends parts. */
  memory: MemoryBudget;
  /**
   * An input is final before its batch ends (a file completed on the server): its entries are
   * journaled at once (a commit point), so a rerun never sends it again — whatever batch it would
   * land in then. `drop`: state keys (its handles) removed in the same commit.
   */
  settle(item: Item, entries: ManifestEntry[], drop?: string[]): void;
  /** A retry listener that reports `retry` events for a batch, its message prefixed by `what`. */
  onRetry(batchId: string, what?: string): (info: RetryInfo) => void;
}

/** The run's polling pace, retry policy and cancellation, as `pollUntil` takes them. */
export function pollSettings<O>(ctx: ProviderContext<O>, onRetry: (info: RetryInfo) => void) {
  const { initialMs, maxMs, timeoutMs } = ctx.run.poll;
  return { initialMs, maxMs, timeoutMs, signal: ctx.signal, retry: ctx.retry, onRetry };
}

/** One upload run of a provider: per-run state lives here (not in module-level caches). */
export interface ProviderRun {
  /**
   * Upload one batch and wait until the server has processed it. Returns one manifest entry per
   * output (a ZIP's images each get their own). Never throws for per-item failures; throws a
   * BatchupError when the whole batch could not be submitted.
   */
  runBatch(batch: BatchPlan): Promise<ManifestEntry[]>;
  /** Once every batch ran: extra top-level manifest fields (e.g. aihub's `runs`). */
  finish?(): Promise<Record<string, unknown> | undefined>;
}

export interface Screened {
  item: Item;
  rule: RejectRule;
  detail: string;
}

/** What a provider's checks before any submission get (also in a dry run: no credentials). */
export interface CheckContext<O = unknown> {
  /** For other origins (asset URLs, probes): it carries no credentials. */
  http: Http;
  options: O;
  signal: AbortSignal;
  cwd: string;
  /** Checks in flight at once. */
  concurrency: number;
}

/** A management subcommand (`batchup <group> <name>`), declared without commander. */
export interface CommandSpec {
  name: string;
  description: string;
  args?: readonly { name: string; description?: string; optional?: boolean }[];
  options?: readonly FlagSpec[];
  /** Waits on the server: Ctrl-C handling is installed. */
  waits?: boolean;
  /** Real command lines, shown at the end of its help. */
  examples?: readonly string[];
  run(c: CommandContext, args: string[], flags: FlagValues): Promise<void>;
}

export interface CommandGroup {
  name: string;
  description: string;
  /** Flags every command of the group takes (besides the CLI's connection flags). */
  options?: readonly FlagSpec[];
  commands: readonly CommandSpec[];
  /** Example command lines for the group's help. */
  examples?: readonly string[];
}

/** What the CLI renders for a management command: data on stdout, progress on stderr. */
export interface CommandOutput {
  data(json: Record<string, unknown>, human: () => string[]): void;
  progress(text: string): void;
  progressDone(text: string, ok: boolean): void;
  retryNote(info: RetryInfo): void;
  stop(): void;
}

export interface CommandContext {
  http: Http;
  endpoint: string;
  retry: Partial<RetryPolicy>;
  signal: AbortSignal;
  cwd: string;
  env: NodeJS.ProcessEnv;
  out: CommandOutput;
  poll: RunSettings['poll'];
}

export interface ProviderModule<O = unknown> {
  name: string;
  /** One line for help texts. */
  summary: string;
  defaultEndpoint: string;
  /** Where `batchup serve` serves this protocol, relative to its origin ('' = the origin itself). */
  sandboxPath: string;
  policy: ValidationPolicy;
  capabilities: Capabilities;
  flags: readonly FlagSpec[];
  /** Typed options from the flag values; checks that need no I/O. Throws USAGE/CONFIG errors. */
  options(values: FlagValues, run: Pick<RunSettings, 'batchId' | 'maxMemory' | 'sandbox'>): O;
  /** What of the options changes the result: part of every input's fingerprint, so changing it re-runs the inputs. */
  fingerprint?(options: O): string;
  /** The credentials for `endpoint`; throws a CONFIG error when they are missing or unusable. */
  credentials(auth: AuthOptions, endpoint: string, now: () => number): Credentials;
  plan(req: PlanRequest): BatchPlan[];
  /** Inputs it must refuse that validation cannot see (they depend on remote names or on each other). Pure. */
  screen?(items: readonly Item[], options: O): Screened[];
  /**
   * A provider whose inputs are not files to upload as they are (blurb's render specs) reads each
   * scanned file itself: the items it yields (sources `<file>#<ref>`, with a `payload`) replace
   * the file; problems become rejections. Replaces validation against `policy`.
   */
  expand?(c: Candidate, ctx: CheckContext<O>): Promise<{ items: Item[]; rejections: Rejection[] }>;
  /**
   * Checks that need the network, before anything is submitted (claid's URL pre-checks, blurb's
   * asset checks): each refused item becomes a rejection naming its rule.
   */
  check?(items: readonly Item[], ctx: CheckContext<O>): Promise<Screened[]>;
  open(ctx: ProviderContext<O>): ProviderRun;
  /** Management subcommands (`batchup batches …`). */
  commands?: readonly CommandGroup[];
}

/**
 * What the command line must know of every provider before one is chosen (its flags are parsed
 * for all of them), declared apart from the module so that knowing it loads no protocol code.
 */
export type ProviderDeclaration = Pick<ProviderModule, 'name' | 'summary' | 'defaultEndpoint' | 'flags'>;

/** Any provider module, whatever its options type. */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds modules of every options type
export type AnyProvider = ProviderModule<any>;
