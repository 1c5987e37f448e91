/**
 * poll: ask the server for a job's state until it is done, backing off from `initialMs` to
 * `maxMs` while nothing changes and returning to `initialMs` when progress shows. Transient
 * failures of one status request are retried without giving up on the job.
 */
import { BatchupError, toBatchupError } from './errors.js';
import { DEFAULT_RETRY, NO_ATTEMPTS, decideRetry, sleep, type RetryInfo, type RetryPolicy } from './retry.js';

/** While the server's count moves, it is asked at least this often, so progress on screen never freezes. */
export const MAX_PROGRESS_GAP_MS = 1_000;

export interface PollOptions<T> {
  fetch: () => Promise<T>;
  done: (state: T) => boolean;
  onUpdate?: (state: T) => void;
  /** A value that changes when the job makes progress (resets the backoff). */
  progressKey?: (state: T) => string;
  /**
   * Units done out of total. With it, once the server has shown a rate, the next poll is timed
   * for when the job should be finished (never sooner than `minMs`), instead of a fixed beat.
   */
  progress?: (state: T) => { done: number; total: number };
  minMs?: number;
  initialMs: number;
  maxMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  onRetry?: (info: RetryInfo) => void;
}

export async function pollUntil<T>(o: PollOptions<T>): Promise<T> {
  const policy = { ...DEFAULT_RETRY, ...o.retry };
  const deadline = Date.now() + o.timeoutMs;
  let interval = o.initialMs;
  let attempts = NO_ATTEMPTS;
  let retries = 0;
  let lastKey: string | undefined;
  // First sighting of progress: (time, done). The rate since then predicts the finish.
  let since: { at: number; done: number } | undefined;
  const etaMs = (p?: { done: number; total: number }): number | undefined => {
    if (!p || p.total <= 0) return undefined;
    const now = Date.now();
    if (!since || p.done < since.done) {
      since = { at: now, done: p.done };
      return undefined;
    }
    const rate = (p.done - since.done) / Math.max(1, now - since.at);
    return rate > 0 ? (p.total - p.done) / rate : undefined;
  };
  for (;;) {
    let state: T;
    try {
      state = await o.fetch();
      attempts = NO_ATTEMPTS;
      retries = 0;
    } catch (raw) {
      const error = toBatchupError(raw);
      const d = o.signal?.aborted ? { retry: false as const } : decideRetry(attempts, error, policy);
      if (!d.retry) throw error;
      attempts = d.attempts;
      o.onRetry?.({ attempt: ++retries, delayMs: d.delayMs, error });
      await sleep(d.delayMs, o.signal);
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
    const eta = etaMs(o.progress?.(state));
    // Timed for the predicted finish, but never longer than MAX_PROGRESS_GAP_MS while the count moves.
    if (eta !== undefined) interval = Math.max(o.minMs ?? 100, Math.min(o.maxMs, MAX_PROGRESS_GAP_MS, Math.round(eta * 1.05) + 20));
    await sleep(interval, o.signal);
  }
}
