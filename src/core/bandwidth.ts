/**
 * --bwlimit: one byte budget per second shared by every request body of a run (streamed files,
 * multipart forms, Base64 JSON, hybrid and aihub parts), as rclone's `--bwlimit` and aws-cli's
 * `max_bandwidth` do, so a nightly job does not flood an office link. `Http` applies it.
 *
 * The bucket is a virtual clock (GCRA): each reservation of n bytes moves `tat` (the moment the
 * bytes sent so far are "paid for") n / rate further; a taker waits until `tat`. Reservations are
 * made synchronously, so concurrent transfers queue in order and their sum keeps the rate. A
 * short burst allowance absorbs timer jitter (a late wake-up is made up for by the next chunks)
 * without letting an idle moment turn into a flood.
 */
import { interrupted } from './errors.js';
import { parseByteSize } from './memory.js';
import { usageError } from './errors.js';

/** The smallest limit that makes sense (below it one chunk would take longer than a request's idle timeout). */
export const MIN_BWLIMIT = 1024;
const BURST_MS = 50;
const MAX_SLICE = 64 * 1024;

export class Bandwidth {
  /** Milliseconds per byte. */
  readonly #msPerByte: number;
  #tat = 0;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#msPerByte = 1000 / bytesPerSecond;
  }

  /** Slices bodies are cut into: about 1/16 s of the budget, 1–64 KiB. */
  get slice(): number {
    return Math.max(1024, Math.min(MAX_SLICE, Math.floor(this.bytesPerSecond / 16)));
  }

  /** Resolves once `bytes` may go out; rejects (INTERRUPTED) when `signal` aborts first. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.now();
    // Idle time earns at most BURST_MS of credit; these bytes are paid for at the new `tat`.
    this.#tat = Math.max(this.#tat, now - BURST_MS) + bytes * this.#msPerByte;
    const wait = this.#tat - now;
    if (wait <= 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(interrupted(signal.reason));
    return new Promise((done, fail) => {
      const onAbort = () => {
        clearTimeout(timer);
        fail(interrupted(signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        done();
      }, wait);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

type Body = string | Buffer | AsyncIterable<Uint8Array>;

/** The body as slices that each wait for their share of the budget. */
export async function* throttled(body: Body, bw: Bandwidth, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const chunks: AsyncIterable<Uint8Array> | Uint8Array[] = typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += bw.slice) {
      const piece = chunk.subarray(at, at + bw.slice);
      await bw.take(piece.length, signal);
      yield piece;
    }
  }
}

/**
 * A rate as typed: `10M` (= 10 MiB/s), `512K`, `1.5MiB/s`, `2000000` (bytes per second). Units
 * are binary whatever their spelling, as for --max-memory (and rclone); a trailing `/s` is allowed.
 */
export function parseRate(text: string, what = '--bwlimit'): number {
  const bare = text.trim().replace(/\/s$|ps$/i, '');
  let bytes: number;
  try {
    bytes = parseByteSize(bare, what);
  } catch {
    throw usageError(`${what} takes bytes per second like 10M (10 MiB/s), 512K or 1.5MiB/s, got "${text}"`);
  }
  if (bytes < MIN_BWLIMIT) throw usageError(`${what} is at least 1K (1 KiB/s), got "${text}"`);
  return bytes;
}
