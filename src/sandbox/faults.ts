/**
 * Deterministic fault injection: each request to a fault-enabled route (the vendors' `/api/...`
 * paths, never `/cdn` or `/_sandbox`) draws from a seeded PRNG, so a run with the same seed and
 * the same request order injects the same faults and a failing test can be replayed.
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
  /**
   * Probability 0..1 that a presigned part PUT (hybrid chunks) gets a fault. These draw from their
   * own seeded sequence (seed + 1), so API faults and part faults can be tuned apart.
   */
  partRate: number;
  /** Kinds for part PUTs; 'cut' breaks the body off halfway (the chunk is recorded as failed). */
  partKinds: FaultKind[];
}

/** Default kinds of API faults. */
export const FAULT_KINDS: readonly FaultKind[] = ['500', '503', '429', 'reset', 'slow', 'lost'];
/** Every kind: 'cut' (read half the body, then drop the connection) is meant for part PUTs; on API routes it acts like 'reset'. */
export const ALL_FAULT_KINDS: readonly FaultKind[] = [...FAULT_KINDS, 'cut'];

export const DEFAULT_FAULTS: FaultOptions = {
  rate: 0,
  kinds: [...FAULT_KINDS],
  seed: 1,
  retryAfterSec: 1,
  slowMs: 1000,
  partRate: 0,
  partKinds: ['cut'],
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

export function resolveFaultOptions(partial?: Partial<FaultOptions>): FaultOptions {
  const o: FaultOptions = { ...DEFAULT_FAULTS, ...stripUndefined(partial ?? {}) };
  if (!(o.rate >= 0 && o.rate <= 1)) throw new RangeError(`fault rate must be within 0..1, got ${o.rate}`);
  if (!Array.isArray(o.kinds) || o.kinds.length === 0) throw new RangeError('fault kinds must not be empty');
  for (const k of [...o.kinds, ...(o.partKinds ?? [])]) {
    if (!ALL_FAULT_KINDS.includes(k)) throw new RangeError(`unknown fault kind '${k}' (known: ${ALL_FAULT_KINDS.join(', ')})`);
  }
  if (!(o.partRate >= 0 && o.partRate <= 1)) throw new RangeError(`part fault rate must be within 0..1, got ${o.partRate}`);
  if (!Array.isArray(o.partKinds) || o.partKinds.length === 0) throw new RangeError('part fault kinds must not be empty');
  if (!Number.isFinite(o.seed)) throw new RangeError('fault seed must be a number');
  if (!(o.retryAfterSec >= 0)) throw new RangeError('retryAfterSec must be >= 0');
  if (!(o.slowMs >= 0)) throw new RangeError('slowMs must be >= 0');
  return { ...o, kinds: [...o.kinds], partKinds: [...o.partKinds] };
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

  /** The injector for presigned part PUTs: `partRate`/`partKinds`, its own sequence (seed + 1). */
  forParts(): FaultInjector {
    const o = this.options;
    return new FaultInjector({ ...o, rate: o.partRate, kinds: o.partKinds, seed: (o.seed + 1) >>> 0 });
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
