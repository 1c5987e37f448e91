/**
 * poll: ask the server for a job's state until it is done, backing off from `initialMs` to
 * `maxMs` while nothing changes and returning to `initialMs` when progress shows. Transient
 * failures of one status request are retried without giving up on the job.
 */
import { BatchupError, toBatchupError } from './errors.js';
import { retryDelay, sleep, DEFAULT_RETRY, type RetryPolicy } from './retry.js';

export interface PollOptions<T> {
  fetch: () => Promise<T>;
  done: (state: T) => boolean;
  onUpdate?: (state: T) => void;
  /** A value that changes when the job makes progress (resets the backoff). */
  progressKey?: (state: T) => string;
  initialMs: number;
  maxMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: { attempt: number; delayMs: number; error: BatchupError }) => void;
}

export async function pollUntil<T>(o: PollOptions<T>): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...o.retry };
  const deadline = Date.now() + o.timeoutMs;
  let interval = o.initialMs;
  let failures = 0;
  let lastKey: string | undefined;
  for (;;) {
    let state: T;
    try {
      state = await o.fetch();
      failures = 0;
    } catch (raw) {
      const error = toBatchupError(raw);
      if (!error.retryable || ++failures > policy.maxRetries || o.signal?.aborted) throw error;
      const delayMs = retryDelay(failures, error, undefined, policy);
      o.onRetry?.({ attempt: failures, delayMs, error });
      await sleep(delayMs, o.signal);
      continue;
    }
    o.onUpdate?.(state);
    if (o.done(state)) return state;
    if (Date.now() > deadline) {
      throw new BatchupError('REMOTE', `gave up waiting after ${Math.round(o.timeoutMs / 1000)} s for the server to finish`, { retryable: false });
    }
    const key = o.progressKey?.(state) ?? JSON.stringify(state);
    interval = key !== lastKey ? o.initialMs : Math.min(o.maxMs, Math.round(interval * 1.6));
    lastKey = key;
    await sleep(interval, o.signal);
  }
}
