/**
 * The single retry decision, as pure functions so they are easy to test. Every loop that retries
 * (one request, one part, a status poll) asks `decideRetry` and nothing else:
 * - retryability is a property of the error (BatchupError.retryable);
 * - a throttling answer (429, or 503 with Retry-After) is the server saying "not now", not a
 *   failure: it waits as long as it was told (the HTTP layer's pacer holds every other new
 *   request to that origin meanwhile) and is counted against `maxThrottles`, not `maxRetries`;
 * - any other retryable failure waits a "full jitter" exponential backoff (Retry-After, when
 *   sent, is a floor) and spends one of `maxRetries`;
 * - a Retry-After longer than `maxRetryAfterMs` gives up rather than parking a run for hours.
 */
import { BatchupError, interrupted, toBatchupError } from './errors.js';

export interface RetryPolicy {
  /** Failed attempts retried after the first one (throttling answers not counted). */
  maxRetries: number;
  baseMs: number;
  capMs: number;
  /** Retry-After values above this are treated as "give up" rather than sleeping for hours. */
  maxRetryAfterMs: number;
  /** Throttling answers in a row for one request before it gives up. */
  maxThrottles: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 6, baseMs: 250, capMs: 20_000, maxRetryAfterMs: 120_000, maxThrottles: 30 };

/** How often one request has failed so far, by kind. */
export interface Attempts {
  failures: number;
  throttles: number;
}

export const NO_ATTEMPTS: Attempts = { failures: 0, throttles: 0 };

export type RetryDecision = { retry: true; delayMs: number; attempts: Attempts } | { retry: false };

/** HTTP statuses worth another try: timeouts, conflicts, throttling, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** The server asked us to slow down (rather than failed). */
export function isThrottle(err: BatchupError): boolean {
  return err.status === 429 || (err.status === 503 && err.retryAfter !== undefined);
}

/** Parse a Retry-After header (delta-seconds or HTTP date) into seconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, (at - now) / 1000);
}

/**
 * Delay before retry number `attempt` (1 = first retry). `random` is injectable for tests.
 * Full jitter: uniform in [0, min(cap, base·2^(attempt-1))]; Retry-After is a floor.
 */
export function retryDelay(
  attempt: number,
  err: unknown,
  retryAfterSec?: number,
  policy: RetryPolicy = DEFAULT_RETRY,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  const asked = retryAfterSec ?? (err instanceof BatchupError ? err.retryAfter : undefined);
  if (asked === undefined) return jittered;
  const askedMs = Math.min(asked * 1000, policy.maxRetryAfterMs);
  // A little jitter on top of Retry-After so a whole pool does not wake in the same millisecond.
  return Math.max(askedMs + Math.floor(random() * Math.min(1000, policy.baseMs)), jittered);
}

/** Whether to try again after `err`, how long to wait first, and the updated counts. */
export function decideRetry(attempts: Attempts, err: BatchupError, policy: RetryPolicy = DEFAULT_RETRY, random: () => number = Math.random): RetryDecision {
  if (!err.retryable) return { retry: false };
  if (err.retryAfter !== undefined && err.retryAfter * 1000 > policy.maxRetryAfterMs) return { retry: false };
  if (isThrottle(err)) {
    const next = { ...attempts, throttles: attempts.throttles + 1 };
    if (next.throttles > policy.maxThrottles) return { retry: false };
    return { retry: true, delayMs: retryDelay(Math.min(next.throttles, 8), err, undefined, policy, random), attempts: next };
  }
  const next = { ...attempts, failures: attempts.failures + 1 };
  if (next.failures > policy.maxRetries) return { retry: false };
  return { retry: true, delayMs: retryDelay(next.failures, err, undefined, policy, random), attempts: next };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(interrupted());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(interrupted());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryInfo {
  /** Retries so far, of either kind (1 = the first retry). */
  attempt: number;
  delayMs: number;
  error: BatchupError;
}

/**
 * Run `fn` until it succeeds, fails with a non-retryable error, or retries run out.
 * `onRetry` sees each failure before the pause (for events and logs).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {
    policy?: Partial<RetryPolicy>;
    signal?: AbortSignal;
    onRetry?: (info: RetryInfo) => void;
    random?: () => number;
  } = {},
): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...opts.policy };
  let attempts = NO_ATTEMPTS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const error = toBatchupError(raw);
      if (opts.signal?.aborted) throw interrupted();
      const d = decideRetry(attempts, error, policy, opts.random);
      if (!d.retry) throw error;
      attempts = d.attempts;
      opts.onRetry?.({ attempt: attempt + 1, delayMs: d.delayMs, error });
      await sleep(d.delayMs, opts.signal);
    }
  }
}
