/**
 * The run-wide memory bound for file parts held in memory (`--max-memory`). Every part a worker
 * reads from disk is paid for here first and given back once the part is acknowledged (or while
 * it waits for a retry), so bytes of parts in flight never exceed the budget, whatever the number
 * of files, workers or batches sharing it. Waiters are served first come, first served, so a
 * large part is not starved by a stream of small ones.
 */
import { interrupted, usageError } from './errors.js';

/** Default `--max-memory`: 12 parts of 5 MiB in flight, with room to spare. */
export const DEFAULT_MAX_MEMORY = 64 * 1024 * 1024;

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class MemoryBudget {
  readonly maxBytes: number;
  #used = 0;
  #peak = 0;
  readonly #waiters: Waiter[] = [];

  constructor(maxBytes: number) {
    if (!(Number.isFinite(maxBytes) && maxBytes > 0)) throw new RangeError(`memory budget must be a positive number of bytes, got ${maxBytes}`);
    this.maxBytes = Math.floor(maxBytes);
  }

  /** Bytes currently held. */
  get inUse(): number {
    return this.#used;
  }

  /** Most bytes ever held at once (for tests and benchmarks). */
  get peak(): number {
    return this.#peak;
  }

  /**
   * Wait until `bytes` fit, then hold them. A request larger than the whole budget can never be
   * served: it fails at once with a USAGE error (raise --max-memory). Aborting `signal` rejects
   * a pending wait with INTERRUPTED.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    if (!(bytes >= 0)) return Promise.reject(new RangeError(`cannot acquire ${bytes} bytes`));
    if (bytes > this.maxBytes) {
      return Promise.reject(usageError(`a part of ${formatSize(bytes)} does not fit in the memory budget of ${formatSize(this.maxBytes)}: raise --max-memory`));
    }
    if (signal?.aborted) return Promise.reject(interrupted());
    if (this.#waiters.length === 0 && this.#used + bytes <= this.maxBytes) {
      this.#take(bytes);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { bytes, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(interrupted());
          this.#drain(); // the head may have changed
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
    });
  }

  release(bytes: number): void {
    if (!(bytes >= 0)) throw new RangeError(`cannot release ${bytes} bytes`);
    if (bytes > this.#used) throw new RangeError(`released ${bytes} bytes but only ${this.#used} are held`);
    this.#used -= bytes;
    this.#drain();
  }

  #take(bytes: number): void {
    this.#used += bytes;
    if (this.#used > this.#peak) this.#peak = this.#used;
  }

  #drain(): void {
    while (this.#waiters.length) {
      const w = this.#waiters[0]!;
      if (this.#used + w.bytes > this.maxBytes) return;
      this.#waiters.shift();
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      this.#take(w.bytes);
      w.resolve();
    }
  }
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * A byte size as typed on the command line: `65536`, `64M`, `64MiB`, `1.5G`. Units are binary
 * whatever their spelling (`64MB` = 64 MiB), as in rclone: a memory limit is about RAM, which
 * is counted in powers of two. Throws a USAGE error naming `what`.
 */
export function parseByteSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw usageError(`${what} must be a size like 64MiB, 512M or 1G, got "${text}"`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw usageError(`${what} must be a positive size, got "${text}"`);
  return bytes;
}

/** 5242880 → "5 MiB", 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
