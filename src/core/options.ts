/** Options of one upload run, as resolved by the CLI from flags > env > config file. */
import type { Bandwidth } from './bandwidth.js';
import type { Credentials } from './http.js';
import type { Shard } from './shard.js';

export type ModeChoice = 'auto' | 'sync' | 'async';

export interface AuthOptions {
  /** A ready bearer token. */
  token?: string;
  /** Key pair from which a short-lived HS256 JWT is minted (bach). */
  accessKey?: string;
  secretKey?: string;
}

export interface UploadOptions {
  /** Files, folders or globs, as typed by the user. */
  paths: string[];
  /** File of URLs, one per line, `#` comments; '-' reads stdin. */
  urlsFile?: string;
  /** Previous manifests whose entries' sources become inputs again. */
  fromManifests?: string[];
  /** globby patterns, relative to each folder. */
  include?: string[];
  exclude?: string[];
  /** A .gitignore-style file of patterns to leave out. */
  ignoreFile?: string;
  endpoint: string;
  /** Made by the provider from the resolved token / key pair (undefined for a dry run). */
  credentials?: Credentials;
  /** The user accepted sending credentials over plain http to a host that is not this machine. */
  allowInsecureHttp?: boolean;
  manifestPath: string;
  mode: ModeChoice;
  /** Batches in flight at once. */
  concurrency: number;
  dryRun: boolean;
  /** At most this many files per batch (--batch-size); the provider's limit when unset. */
  maxBatchFiles?: number;
  /** Custom batch id (a single batch) or prefix (`<prefix>-<n>` for several). */
  batchId?: string;
  /** Remote-name template (core/naming.ts): {name} {stem} {ext} {parent} {index}. Default: the file name. */
  nameTemplate?: string;
  maxRetries: number;
  /** Per-request timeout without progress. */
  timeoutMs: number;
  /** Stop polling a batch after this long. */
  pollTimeoutMs: number;
  /** First poll delay; grows with backoff up to pollMaxIntervalMs. */
  pollIntervalMs: number;
  pollMaxIntervalMs: number;
  /** Working directory that relative paths resolve from. */
  cwd: string;
  /** Upper bound on bytes of file parts held in memory at once (chunked uploads). */
  maxMemory?: number;
  /** Journal folder (--state); default beside the manifest (see defaultStateDir). */
  stateDir?: string;
  /** Upload everything again, ignoring what the journal says is done (--force). */
  force?: boolean;
  /** Re-upload inputs whose URLs expire within this long (--refresh-before; default 3 days). */
  refreshBeforeMs?: number;
  /** Drop inputs that are gone from the manifest and journal (--prune). */
  prune?: boolean;
  /**
   * A skipped input is one `skip` event, without a `result` event for each of its entries: for a
   * caller that shows none of them (a nightly rerun of 100,000 unchanged files decodes no entry
   * for its events).
   */
  quietSkips?: boolean;
  /** Stop gracefully after this long, like Ctrl-C (--max-duration, for cron). */
  maxDurationMs?: number;
  /** Save every output into this folder once done (--download). */
  downloadDir?: string;
  /** Stdin for `--urls -`. */
  stdin?: NodeJS.ReadableStream;
  /** --shard K/N: only the inputs whose identity hashes to shard K of N (see shard.ts). */
  shard?: Shard;
  /** --bwlimit: the byte budget per second every request body of the run shares. */
  bandwidth?: Bandwidth;
}

export const DEFAULTS = {
  manifestPath: 'batchup-manifest.json',
  concurrency: 4,
  maxRetries: 6,
  timeoutMs: 120_000,
  pollTimeoutMs: 3_600_000,
  pollIntervalMs: 500,
  pollMaxIntervalMs: 5_000,
  refreshBeforeMs: 3 * 24 * 3600 * 1000,
} as const;
