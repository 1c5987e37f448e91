/**
 * Throttle accounting: does a client hold back while a `Retry-After` runs?
 *
 * Every 429 or 503 the sandbox answers with a `Retry-After` (today: injected faults) opens a
 * window `[written + grace, written + Retry-After)`, where `written` is when the answer's head went
 * out and grace = min(300 ms, Retry-After / 3) covers requests the client had already started
 * before the answer reached it. An API request (a vendor route with `faults: true`) whose headers
 * arrive inside any open window counts as started during a Retry-After. A client that pauses its
 * new requests to the origin for the announced time scores 0. The sandbox only sees a request when
 * its own event loop gets to it: on a busy machine that is late, so the grace grows by how late
 * the loop has lately run (`lagMs`) — a slow machine must not make a well-behaved client look rude.
 *
 * The sandbox is one origin, so the windows are global. The clock is injected for tests.
 */
import type { Clock } from './job-clock.js';

export const MAX_GRACE_MS = 300;

export interface ThrottleStats {
  /** 429/503 answers that carried a Retry-After. */
  retryAfterGiven: number;
  /** API requests whose headers arrived while a Retry-After was running (after its grace). */
  startedDuringRetryAfter: number;
}

interface Window {
  from: number;
  until: number;
}

/** Retry-After as seconds (delta form; an HTTP date is measured from `now`); undefined when unusable. */
export function retryAfterMs(value: string | number | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class ThrottleLedger {
  private windows: Window[] = [];
  private given = 0;
  private startedDuring = 0;
  /** Set by the server: how late its event loop has lately run, in ms. */
  lagMs: () => number = () => 0;

  constructor(private readonly now: Clock = Date.now) {}

  /** An answer's head was written; opens a window when it is a 429/503 with a Retry-After. */
  answered(status: number, headers: Readonly<Record<string, string | number>>): void {
    if (status !== 429 && status !== 503) return;
    const raw = headers['retry-after'] ?? headers['Retry-After'];
    const t = this.now();
    const ms = retryAfterMs(raw, t);
    if (ms === undefined) return;
    this.given += 1;
    const grace = Math.min(MAX_GRACE_MS, ms / 3);
    if (ms > grace) this.windows.push({ from: t + grace, until: t + ms });
  }

  /** An API request's headers arrived at `at` (default now). */
  requestArrived(at = this.now()): void {
    this.windows = this.windows.filter((w) => w.until > at);
    const lag = this.lagMs();
    if (this.windows.some((w) => w.from + lag <= at && at < w.until)) this.startedDuring += 1;
  }

  snapshot(): ThrottleStats {
    return { retryAfterGiven: this.given, startedDuringRetryAfter: this.startedDuring };
  }
}

/**
 * How late this process's event loop has lately run: a timer every `everyMs` measures how much
 * later than asked it fired; the figure keeps the worst, fading by a tenth a tick (~1 s to fade).
 */
export class LoopLag {
  private recent = 0;

  constructor(signal: AbortSignal, everyMs = 50) {
    let last = performance.now();
    const timer = setInterval(() => {
      const t = performance.now();
      this.recent = Math.max(t - last - everyMs, this.recent * 0.9);
      last = t;
    }, everyMs);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  get ms(): number {
    return this.recent;
  }
}
