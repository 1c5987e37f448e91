/**
 * A rate limiter that announces itself in `RateLimit-*` headers (claid.md, the IETF
 * draft-ietf-httpapi-ratelimit-headers shape): several fixed-window policies at once, e.g.
 * `120;w=60, 4;w=1` (120 per minute and 4 per second).
 *
 * - A window opens with the first request after the previous one closed (not on a wall-clock grid).
 * - An admitted request counts in every policy's window and carries
 *   `RateLimit-Limit: <tightest limit>, <every policy>` (e.g. `4, 120;w=60, 4;w=1`),
 *   `RateLimit-Remaining` of that tightest window (what is left after this request) and
 *   `RateLimit-Reset` (seconds until it resets, rounded up).
 * - A refused request does not count; the answer is a 429 without `Retry-After`, with the headers
 *   of the full window (the one resetting last, when several are) and `RateLimit-Remaining: -1`.
 * - "Tightest" is the window with the fewest requests left; on a tie (ASSUMED), the one that
 *   resets last, so a client pacing from it never waits too little.
 *
 * Each key (an API key, say) has its own windows. The clock is injected for tests.
 */
import type { Clock } from './job-clock.js';

export interface RatePolicy {
  /** Requests allowed per window. */
  limit: number;
  /** Window length, seconds. */
  windowSec: number;
}

export interface RateDecision {
  admitted: boolean;
  /** The `RateLimit-*` headers for this answer (lower-case names). */
  headers: Record<string, string>;
}

interface Window {
  openedAt: number;
  used: number;
}

/** `120;w=60, 4;w=1` → policies; throws RangeError on anything else. */
export function parseRatePolicies(text: string): RatePolicy[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new RangeError('a rate limit needs at least one policy, e.g. "120;w=60, 4;w=1"');
  return items.map((item) => {
    const m = /^(\d+)\s*;\s*w\s*=\s*(\d+)$/.exec(item);
    const limit = m ? Number(m[1]) : NaN;
    const windowSec = m ? Number(m[2]) : NaN;
    if (!(Number.isSafeInteger(limit) && limit >= 1 && Number.isSafeInteger(windowSec) && windowSec >= 1)) {
      throw new RangeError(`bad rate limit policy '${item}': expected <requests>;w=<seconds>, both whole numbers ≥ 1`);
    }
    return { limit, windowSec };
  });
}

export function formatRatePolicies(policies: readonly RatePolicy[]): string {
  return policies.map((p) => `${p.limit};w=${p.windowSec}`).join(', ');
}

export class RateLimiter {
  private readonly windows = new Map<string, Window[]>();
  private readonly policyList: string;

  constructor(
    readonly policies: readonly RatePolicy[],
    private readonly now: Clock = Date.now,
  ) {
    if (policies.length === 0) throw new RangeError('a rate limiter needs at least one policy');
    this.policyList = formatRatePolicies(policies);
  }

  /** Admits (and counts) one request of `key`, or refuses it; either way with its headers. */
  take(key = ''): RateDecision {
    const t = this.now();
    const ws = this.current(key, t);
    const full = this.latestReset(
      ws,
      ws.map((w, i) => w.used >= this.policies[i]!.limit),
    );
    if (full >= 0) return { admitted: false, headers: this.headers(full, ws[full]!, t, -1) };
    for (const w of ws) {
      if (w.used === 0) w.openedAt = t; // the first request opens the window
      w.used += 1;
    }
    const i = this.tightest(ws);
    return { admitted: true, headers: this.headers(i, ws[i]!, t, this.policies[i]!.limit - ws[i]!.used) };
  }

  /** The windows of `key` at `t`, closed ones reset (a reset window opens with its next request). */
  private current(key: string, t: number): Window[] {
    let ws = this.windows.get(key);
    if (!ws) {
      ws = this.policies.map(() => ({ openedAt: t, used: 0 }));
      this.windows.set(key, ws);
    }
    ws.forEach((w, i) => {
      if (w.used > 0 && t >= w.openedAt + this.policies[i]!.windowSec * 1000) {
        w.used = 0;
        w.openedAt = t;
      }
    });
    return ws;
  }

  /** The window with the fewest requests left (ties: the one resetting last). */
  private tightest(ws: Window[]): number {
    const left = ws.map((w, i) => this.policies[i]!.limit - w.used);
    const least = Math.min(...left);
    return this.latestReset(
      ws,
      left.map((n) => n === least),
    );
  }

  /** Of the windows `among`, the one that resets last (-1: none); a refused client waits for that one. */
  private latestReset(ws: Window[], among: boolean[]): number {
    let best = -1;
    for (let i = 0; i < ws.length; i++) {
      if (among[i] && (best < 0 || this.resetAt(i, ws[i]!) > this.resetAt(best, ws[best]!))) best = i;
    }
    return best;
  }

  private resetAt(i: number, w: Window): number {
    return w.openedAt + this.policies[i]!.windowSec * 1000;
  }

  private headers(i: number, w: Window, t: number, remaining: number): Record<string, string> {
    return {
      'ratelimit-limit': `${this.policies[i]!.limit}, ${this.policyList}`,
      'ratelimit-remaining': String(remaining),
      'ratelimit-reset': String(Math.max(0, Math.ceil((this.resetAt(i, w) - t) / 1000))),
    };
  }
}
