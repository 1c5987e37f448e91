/**
 * Exit codes — the one place they are defined and mapped (README "Exit codes" mirrors this table).
 *
 * | code | name             | meaning                                                                 |
 * |------|------------------|-------------------------------------------------------------------------|
 * |   0  | OK               | every input was uploaded or skipped as already done (dry run: all valid)|
 * |   1  | INTERNAL         | a bug: an unexpected error inside batchup                               |
 * |   2  | USAGE            | bad flags/arguments, or missing/invalid configuration (endpoint, token) |
 * |   3  | PARTIAL          | some inputs uploaded (or skipped), some rejected or failed              |
 * |   4  | NOTHING_UPLOADED | nothing valid/nothing uploaded: every input was rejected or failed, or  |
 * |      |                  | there was no input at all                                               |
 * |   5  | AUTH             | the API refused the credentials (401/403, bad key pair)                 |
 * |   6  | REMOTE           | the run stopped on a network/server/protocol error before finishing     |
 * | 130  | INTERRUPTED      | stopped by SIGINT/SIGTERM (manifest written for what finished)          |
 *
 * Per-file problems never throw: they arrive in the RunSummary counts and map to 0/3/4.
 * Whole-run failures throw a BatchupError and map by its `code`.
 */
import { BatchupError, toBatchupError, type ErrorCode } from '../core/errors.js';
import type { RunSummary } from '../core/events.js';

export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  PARTIAL: 3,
  NOTHING_UPLOADED: 4,
  AUTH: 5,
  REMOTE: 6,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_ERROR_CODE: Record<ErrorCode, ExitCode> = {
  USAGE: EXIT.USAGE,
  CONFIG: EXIT.USAGE,
  AUTH: EXIT.AUTH,
  VALIDATION: EXIT.NOTHING_UPLOADED,
  HTTP: EXIT.REMOTE,
  HTTP_RETRYABLE: EXIT.REMOTE,
  NETWORK: EXIT.REMOTE,
  PROTOCOL: EXIT.REMOTE,
  REMOTE: EXIT.REMOTE,
  NOT_FOUND: EXIT.REMOTE,
  UNKNOWN_OUTCOME: EXIT.REMOTE,
  QUOTA: EXIT.REMOTE,
  INTERRUPTED: EXIT.INTERRUPTED,
  INTERNAL: EXIT.INTERNAL,
};

/** Exit code of a whole-run failure (anything thrown). */
export function exitCodeForError(err: unknown): ExitCode {
  const e = err instanceof BatchupError ? err : toBatchupError(err);
  return BY_ERROR_CODE[e.code] ?? EXIT.INTERNAL;
}

export interface SummaryFacts {
  /** Files in the plan (a dry run's "would upload" count). */
  plannedFiles?: number;
  /** Failures whose code was AUTH (per-batch 401/403 reported as events). */
  authFailures?: number;
}

/** Exit code of a run that finished (possibly interrupted) and returned a summary. */
export function exitCodeForSummary(s: RunSummary, facts: SummaryFacts = {}): ExitCode {
  if (s.interrupted) return EXIT.INTERRUPTED;
  // An output --download could not save is a partial result: the server has it, the folder does not.
  const bad = s.rejected + s.failed + (s.downloadFailures ?? 0);
  const good = s.skipped + (s.dryRun ? (facts.plannedFiles ?? 0) : s.uploaded);
  if (good > 0 && bad === 0) return EXIT.OK;
  if (good > 0) return EXIT.PARTIAL;
  // Nothing went through. If the API refused our credentials, say so rather than "nothing valid".
  if ((facts.authFailures ?? 0) > 0) return EXIT.AUTH;
  return EXIT.NOTHING_UPLOADED;
}

/** One-line descriptions, for `--help`. */
export const EXIT_CODE_HELP = `Exit codes:
  0    all done: every input uploaded or skipped (dry run: every input valid)
  1    internal error (a bug)
  2    usage or configuration error (bad flag, missing endpoint/token)
  3    partial: some inputs uploaded, some rejected or failed
  4    nothing uploaded: every input rejected or failed, or no input
  5    authentication refused by the API
  6    run stopped by a network/server error
  130  interrupted (SIGINT/SIGTERM); the manifest holds what finished
  --exit-nothing N: the code when nothing was new (every input skipped, none rejected or failed)`;

/** A second line for a whole-run error: what to do about it. */
export function hintFor(e: BatchupError): string | undefined {
  switch (e.code) {
    case 'AUTH':
      return 'check the token (BATCHUP_TOKEN, `batchup config set token -`, --token-file) or the key pair, and the endpoint';
    case 'USAGE':
      return 'see `batchup --help`';
    default:
      return undefined;
  }
}
