/**
 * The flags for running batchup beyond one terminal — in a CI matrix, a Kubernetes Indexed Job,
 * cron or a systemd timer: --shard, --bwlimit, --log-file (with its rotation), --exit-nothing.
 * Declared once for `upload` and `render`; resolved (every problem a usage error, before any
 * file is read) by `runFlagsFrom`.
 */
import { basename, dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { Bandwidth, parseRate } from '../core/bandwidth.js';
import { usageError } from '../core/errors.js';
import { parseByteSize } from '../core/memory.js';
import { parseIntInRange } from '../core/parse.js';
import { type Shard, parseShard } from '../core/shard.js';
import type { RunSummary } from '../core/events.js';
import { EXIT } from './exit-codes.js';

export const SHARD_ENV = 'BATCHUP_SHARD';
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_KEEP = 3;

export interface RunFlags {
  shard?: string;
  bwlimit?: string;
  logFile?: string;
  logMaxSize?: string;
  logKeep?: string;
  exitNothing?: string;
}

export interface LogFileOptions {
  path: string;
  maxBytes: number;
  keep: number;
}

export interface RunExtras {
  shard?: Shard;
  bandwidth?: Bandwidth;
  log?: LogFileOptions;
  exitNothing?: number;
}

/** Request and output flags of every command that runs batches (`upload`, `render`). */
export function addRequestAndOutputFlags(cmd: Command, successes: string): Command {
  return cmd
    .option('--max-retries <n>', 'retries per request (default 6)')
    .option('--timeout <duration>', 'per-request timeout without progress, e.g. 90s, 2m (default 120s)')
    .option('--allow-insecure-http', 'send credentials over plain http to a host that is not this machine (a trusted network only)')
    .option('--json', 'NDJSON events on stdout')
    .addOption(new Option('-q, --quiet', 'only errors and the final summary').conflicts('verbose'))
    .option('-v, --verbose', `also retries and ${successes}`)
    .option('--no-progress', 'no progress bars or progress lines');
}

export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--shard <K/N>', `only shard K of N of the inputs (1-based; env ${SHARD_ENV}; N alone in a Kubernetes Indexed Job)`)
    .option('--bwlimit <rate>', 'bytes per second for all uploads of the run together, e.g. 10M (= 10 MiB/s), 512K')
    .option('--log-file <path>', 'also append the plain output lines to PATH, timestamped and rotated by size')
    .option('--log-max-size <size>', 'rotate the --log-file past this size (PATH.1, PATH.2, …; default 10MiB)')
    .option('--log-keep <n>', 'rotated --log-file copies kept (default 3)')
    .option('--exit-nothing <code>', 'exit with CODE when there was nothing to do (every input already done, or none)');
}

/** Codes batchup gives a meaning of its own: --exit-nothing must not be mistaken for one of them. */
const TAKEN = new Set<number>([EXIT.INTERNAL, EXIT.USAGE, EXIT.PARTIAL, EXIT.NOTHING_UPLOADED, EXIT.AUTH, EXIT.REMOTE, EXIT.INTERRUPTED]);

export function runFlagsFrom(f: RunFlags, env: NodeJS.ProcessEnv): RunExtras {
  const out: RunExtras = {};
  const shardText = f.shard ?? (env[SHARD_ENV]?.trim() || undefined);
  if (shardText !== undefined) out.shard = parseShard(shardText, env, f.shard !== undefined ? '--shard' : SHARD_ENV);
  if (f.bwlimit !== undefined) out.bandwidth = new Bandwidth(parseRate(f.bwlimit));
  if (f.logFile !== undefined) {
    if (!f.logFile.trim()) throw usageError('--log-file is empty');
    out.log = {
      path: f.logFile,
      maxBytes: f.logMaxSize === undefined ? DEFAULT_LOG_MAX_BYTES : parseByteSize(f.logMaxSize, '--log-max-size'),
      keep: f.logKeep === undefined ? DEFAULT_LOG_KEEP : parseIntInRange(f.logKeep, 1, 100, '--log-keep'),
    };
  } else if (f.logMaxSize !== undefined || f.logKeep !== undefined) {
    throw usageError('--log-max-size and --log-keep go with --log-file');
  }
  if (f.exitNothing !== undefined) {
    const code = parseIntInRange(f.exitNothing, 0, 255, '--exit-nothing');
    if (TAKEN.has(code)) throw usageError(`--exit-nothing ${code} would read as batchup's own exit code ${code}: pick 0 or 7–255 except 130`);
    out.exitNothing = code;
  }
  return out;
}

/** With --shard and the default manifest name, each shard gets its own: `batchup-manifest.shard-3-of-8.json`. */
export function shardManifestPath(path: string, shard: Shard): string {
  const name = basename(path).replace(/(\.json)?$/i, (ext) => `.shard-${shard.index}-of-${shard.total}${ext || ''}`);
  return join(dirname(path), name);
}

/**
 * "Nothing to do": no input needed sending — every one skipped as done, or there was none — and
 * nothing was rejected or failed. A dry run: nothing planned and nothing rejected.
 */
export function nothingToDo(s: RunSummary, plannedFiles: number): boolean {
  if (s.interrupted || s.rejected || s.failed || s.downloadFailures) return false;
  return s.dryRun ? plannedFiles === 0 : s.uploaded === 0;
}
