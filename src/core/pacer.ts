/**
 * Pacing per origin, seen by every request of the run (after rclone's `fs/pacer` and the AWS
 * SDK's adaptive retry mode): all concurrent transfers to one server feel one throttle, not each
 * its own.
 *
 * - **In flight (AIMD)**: at most `limit` requests to the origin at once. A 429 or 503 halves the
 *   limit (at most once per `decreaseEveryMs`, so one burst of refusals counts once), every
 *   success adds 1/limit back, up to the maximum — like TCP congestion control.
 * - **Pause**: after a 429/503 with Retry-After, or a 429 whose RateLimit-Reset says when the
 *   window reopens, no new *paced* request starts until then; requests already in flight finish.
 * - **Windows**: `RateLimit-Limit` announces the server's policies (`4, 120;w=60, 4;w=1`). A new
 *   request waits while any policy's last `w` seconds already hold `q` of ours — counting each
 *   request from when its answer came back (and one still in flight as if it were being admitted
 *   now): the server admitted it at some moment between its start and its answer, and a busy
 *   machine can put much time between the two, so only the answer is a safe anchor. A sliding
 *   bound also respects the server's fixed windows. `RateLimit-Remaining`/`-Reset` describe the
 *   moment a request was admitted, so what we started since is subtracted before trusting them
 *   (other clients may share the key).
 * Paced requests are the ones that carry our credentials (API calls: what a rate limit counts);
 * presigned uploads and downloads only take part in the in-flight limit.
 */
import { interrupted } from './errors.js';
import { parseRetryAfter } from './retry.js';

export interface Ticket {
  readonly paced: boolean;
  /** Order of this paced request among the origin's paced starts. */
  readonly seq: number;
  readonly startedAt: number;
}

export interface Outcome {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
}

interface Policy {
  quota: number;
  windowMs: number;
}

interface Waiter {
  paced: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface PacerOptions {
  maxInFlight: number;
  /** Until the origin has answered once, start one paced request at a time (learn its limits before a burst). */
  learnFirst?: boolean;
  now?: () => number;
  decreaseEveryMs?: number;
}

/** Extra time added to every window and pause: arrival order at the server may differ slightly from our start order. */
const MARGIN_MS = 50;

const header = (h: Outcome['headers'], name: string): string | undefined => {
  const v = h?.[name];
  return Array.isArray(v) ? v[0] : v;
};

/** `4, 120;w=60, 4;w=1` → the policies that name a window (bare numbers repeat the tightest one). */
export function parseRateLimitPolicies(value: string | undefined): Policy[] {
  if (!value) return [];
  const out: Policy[] = [];
  for (const item of value.split(',')) {
    const m = /^\s*(\d+)\s*;(?:.*;)?\s*w\s*=\s*(\d+(?:\.\d+)?)/.exec(item);
    if (m) out.push({ quota: Number(m[1]), windowMs: Number(m[2]) * 1000 });
  }
  return out.filter((p) => p.quota > 0 && p.windowMs > 0);
}

export class OriginPacer {
  private limit: number;
  private active = 0;
  private activePaced = 0;
  private readonly waiters: Waiter[] = [];
  private pausedUntil = 0;
  private policies: Policy[] = [];
  /** When the answers of our recent paced requests came back (ascending): each counts in a window until then + w. */
  private readonly answeredAt: number[] = [];
  private seq = 0;
  /** The server's last word on the tightest window: `remaining` at the admission of request `seq`, until `resetAt`. */
  private view?: { seq: number; remaining: number; resetAt: number };
  private answered = false;
  private lastDecrease = -Infinity;
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly o: PacerOptions) {
    this.limit = Math.max(1, o.maxInFlight);
    this.now = o.now ?? Date.now;
  }

  /** Current in-flight limit (for tests and stats). */
  get inFlightLimit(): number {
    return Math.max(1, Math.floor(this.limit));
  }

  /** Wait for a slot (and, when `paced`, for the pause and the windows); the ticket goes back with `release`. */
  acquire(paced: boolean, signal?: AbortSignal): Promise<Ticket> {
    if (signal?.aborted) return Promise.reject(interrupted());
    if (this.waitMs(paced) === 0 && !this.waiters.some((w) => w.paced === paced)) return Promise.resolve(this.start(paced));
    return new Promise<Ticket>((resolve, reject) => {
      const w: Waiter = { paced, resolve: () => resolve(this.start(paced)), reject, signal };
      if (signal) {
        w.onAbort = () => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(interrupted());
          this.pump();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.pump();
    });
  }

  /** The request ended (response read, or failed); `outcome` teaches the pacer what the server said. */
  release(t: Ticket, outcome: Outcome = {}): void {
    this.active--;
    const at = this.now();
    if (t.paced) {
      this.activePaced--;
      this.answeredAt.push(at);
      const keep = Math.max(0, ...this.policies.map((p) => p.windowMs)) + MARGIN_MS;
      while (this.answeredAt.length && this.answeredAt[0]! < at - keep) this.answeredAt.shift();
    }
    if (outcome.status !== undefined) {
      this.answered = true;
      this.learn(t, outcome, at);
    }
    this.pump();
  }

  private learn(t: Ticket, { status, headers }: Outcome, at: number): void {
    const policies = parseRateLimitPolicies(header(headers, 'ratelimit-limit'));
    if (policies.length) this.policies = policies;
    const remaining = Number(header(headers, 'ratelimit-remaining'));
    const reset = Number(header(headers, 'ratelimit-reset'));
    const hasWindow = header(headers, 'ratelimit-reset') !== undefined && Number.isFinite(reset);
    if (t.paced && hasWindow && Number.isFinite(remaining) && remaining >= 0 && (!this.view || t.seq >= this.view.seq)) {
      this.view = { seq: t.seq, remaining, resetAt: t.startedAt + reset * 1000 + MARGIN_MS };
    }
    const throttled = status === 429 || status === 503;
    if (!throttled) {
      if (status !== undefined && status < 400) this.limit = Math.min(this.o.maxInFlight, this.limit + 1 / this.limit);
      return;
    }
    if (at - this.lastDecrease >= (this.o.decreaseEveryMs ?? 500)) {
      this.limit = Math.max(1, this.limit / 2);
      this.lastDecrease = at;
    }
    const retryAfter = parseRetryAfter(header(headers, 'retry-after'));
    const waitMs = retryAfter !== undefined ? retryAfter * 1000 : status === 429 && hasWindow ? reset * 1000 : undefined;
    if (waitMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, at + waitMs + MARGIN_MS);
  }

  private start(paced: boolean): Ticket {
    this.active++;
    const startedAt = this.now();
    if (!paced) return { paced, seq: 0, startedAt };
    this.activePaced++;
    return { paced, seq: ++this.seq, startedAt };
  }

  /** 0 when a request may start now; Infinity when it must wait for a release; else ms to wait. */
  private waitMs(paced: boolean): number {
    if (this.active >= this.inFlightLimit) return Infinity;
    if (!paced) return 0;
    if (this.o.learnFirst && !this.answered && this.activePaced > 0) return Infinity;
    const now = this.now();
    let until = this.pausedUntil;
    for (const p of this.policies) {
      // In flight: each counts as admitted now. Answered: each counts until its answer + w.
      const since = now - p.windowMs - MARGIN_MS;
      let recent = 0;
      for (let i = this.answeredAt.length - 1; i >= 0 && this.answeredAt[i]! > since; i--) recent++;
      const used = this.activePaced + recent;
      if (used < p.quota) continue;
      if (used - recent >= p.quota) return Infinity; // all taken by requests in flight: wait for an answer
      // The (used - quota + 1) oldest recent answers must leave the window.
      until = Math.max(until, this.answeredAt[this.answeredAt.length - recent + (used - p.quota)]! + p.windowMs + MARGIN_MS);
    }
    const v = this.view;
    if (v && now < v.resetAt && v.remaining - (this.seq - v.seq) <= 0) until = Math.max(until, v.resetAt);
    return until > now ? until - now : 0;
  }

  /**
   * Start every waiter that may start now, in order; a paced one held by a pause does not hold
   * up an unpaced one behind it. Otherwise wake up when the earliest wait ends.
   */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    let soonest = Infinity;
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      const wait = this.waitMs(w.paced);
      if (wait === 0) {
        this.waiters.splice(i, 1);
        if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
        w.resolve();
        continue;
      }
      if (this.active >= this.inFlightLimit) return; // no slot for anyone: a release pumps again
      soonest = Math.min(soonest, wait);
      i++;
    }
    if (soonest !== Infinity) this.timer = setTimeout(() => this.pump(), soonest);
  }
}
