/**
 * Deterministic fault injection: each request to a fault-enabled route (the vendors' API paths,
 * never `/cdn` or `/_sandbox`) draws from a seeded PRNG, so a run with the same seed and the same
 * request order injects the same faults and a failing test can be replayed.
 *
 * A protocol with requests of its own kind (hybrid's presigned part PUTs) takes a separate
 * sequence from {@link FaultInjector.derive}: same seed + an offset, its own rate and kinds, so
 * the two can be tuned apart and each still replays.
 *
 * This file imports nothing: the CLI reads its constants without loading the sandbox.
 */

export type FaultKind = '500' | '503' | '429' | 'reset' | 'slow' | 'lost' | 'cut';

export interface FaultOptions {
  /** Probability 0..1 that a request gets a fault. */
  rate: number;
  kinds: FaultKind[];
  seed: number;
  /** Value of `Retry-After` on injected 429s. */
  retryAfterSec: number;
  /** Delay added by 'slow'. */
  slowMs: number;
}

/** The kinds of API faults (the default set). */
export const FAULT_KINDS: readonly FaultKind[] = ['500', '503', '429', 'reset', 'slow', 'lost'];
/**
 * Every kind. 'cut' (read half the body, then drop the connection) is meant for uploads of parts;
 * on API routes it acts like 'reset'.
 */
export const ALL_FAULT_KINDS: readonly FaultKind[] = [...FAULT_KINDS, 'cut'];

export const DEFAULT_FAULTS: FaultOptions = {
  rate: 0,
  kinds: [...FAULT_KINDS],
  seed: 1,
  retryAfterSec: 1,
  slowMs: 1000,
};

/** mulberry32: tiny, fast, good enough for test schedules. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Throws RangeError unless `rate` is a probability and `kinds` a non-empty list of known kinds. */
export function checkFaultRateAndKinds(rate: unknown, kinds: unknown, what = 'fault'): void {
  if (!(typeof rate === 'number' && rate >= 0 && rate <= 1)) throw new RangeError(`${what} rate must be within 0..1, got ${String(rate)}`);
  if (!Array.isArray(kinds) || kinds.length === 0) throw new RangeError(`${what} kinds must not be empty`);
  for (const k of kinds) {
    if (!ALL_FAULT_KINDS.includes(k as FaultKind)) throw new RangeError(`unknown fault kind '${String(k)}' (known: ${ALL_FAULT_KINDS.join(', ')})`);
  }
}

export function resolveFaultOptions(partial?: Partial<FaultOptions>): FaultOptions {
  const o: FaultOptions = { ...DEFAULT_FAULTS, ...stripUndefined(partial ?? {}) };
  checkFaultRateAndKinds(o.rate, o.kinds);
  if (!Number.isFinite(o.seed)) throw new RangeError('fault seed must be a number');
  if (!(o.retryAfterSec >= 0)) throw new RangeError('retryAfterSec must be >= 0');
  if (!(o.slowMs >= 0)) throw new RangeError('slowMs must be >= 0');
  return { ...o, kinds: [...o.kinds] };
}

/** `o` without its undefined fields, so spreading it over defaults keeps the defaults. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export class FaultInjector {
  readonly options: FaultOptions;
  private readonly rand: () => number;

  constructor(partial?: Partial<FaultOptions>) {
    this.options = resolveFaultOptions(partial);
    this.rand = mulberry32(this.options.seed);
  }

  /** A separate sequence (seed + `offset`) with its own rate and kinds; Retry-After and slowMs are shared. */
  derive(rate: number, kinds: readonly FaultKind[], offset: number): FaultInjector {
    return new FaultInjector({ ...this.options, rate, kinds: [...kinds], seed: (this.options.seed + offset) >>> 0 });
  }

  get enabled(): boolean {
    return this.options.rate > 0;
  }

  /** The fault for the next request, or null. Draws nothing when faults are off. */
  next(): FaultKind | null {
    if (!this.enabled) return null;
    if (this.rand() >= this.options.rate) return null;
    const kinds = this.options.kinds;
    return kinds[Math.min(kinds.length - 1, Math.floor(this.rand() * kinds.length))] ?? null;
  }
}
