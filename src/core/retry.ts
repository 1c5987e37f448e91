/**
 * The single retry decision, as pure functions so they are easy to test:
 * - `isRetryable(err)`: retryability is a property of the error (BatchupError.retryable);
 * - `retryDelay(attempt, err, retryAfter)`: "full jitter" exponential backoff, capped, and never
 *   shorter than what the server asked for with Retry-After.
 */
import { BatchupError, interrupted, toBatchupError } from './errors.js';

export interface RetryPolicy {
  /** Attempts after the first one. */
  maxRetries: number;
  baseMs: number;
  capMs: number;
  /** Retry-After values above this are treated as "give up" rather than sleeping for hours. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 6, baseMs: 250, capMs: 20_000, maxRetryAfterMs: 120_000 };

/** HTTP statuses worth another try: timeouts, conflicts, throttling, server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
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

export function isRetryable(err: unknown): boolean {
  return toBatchupError(err).retryable;
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

/**
 * Run `fn` until it succeeds, fails with a non-retryable error, or retries run out.
 * `onRetry` sees each failure before the pause (for events and for adaptive concurrency).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {
    policy?: Partial<RetryPolicy>;
    signal?: AbortSignal;
    onRetry?: (info: { attempt: number; delayMs: number; error: BatchupError }) => void;
    random?: () => number;
  } = {},
): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...opts.policy };
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (raw) {
      const error = toBatchupError(raw);
      if (opts.signal?.aborted) throw interrupted();
      if (!error.retryable || attempt >= policy.maxRetries) throw error;
      if (error.retryAfter !== undefined && error.retryAfter * 1000 > policy.maxRetryAfterMs) throw error;
      const delayMs = retryDelay(attempt + 1, error, undefined, policy, opts.random);
      opts.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs, opts.signal);
    }
  }
}
