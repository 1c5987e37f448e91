/**
 * The part engine: send a file as numbered parts, several in flight, in bounded memory.
 * Shared by every provider that splits files (hybrid chunks, aihub multipart).
 *
 * Shape (after aws-sdk lib-storage's `Upload`, with streamed parts):
 * - N workers pull from ONE part generator, which walks the parts in file order.
 * - A part's body streams from disk through one slice buffer of PART_SLICE bytes (1 MiB), read
 *   as the HTTP client asks for more: a 5 MiB part in flight holds 1 MiB, not 5. Each part in
 *   flight pays its slice to the shared {@link MemoryBudget} first, so bytes held = parts in
 *   flight × slice, never more than the budget, however many files and batches share it. A part
 *   larger than the whole budget is still a USAGE error (the flag's documented rule).
 * - Slice buffers are pooled per budget and reused; a retry streams the part again from disk
 *   through the same kind of slice and keeps its budget while it waits. Nothing is allocated per
 *   part or per retry, so a run with many faults holds what a clean run holds.
 * - Each part is retried on its own (the one decision of core/retry.ts: `decideRetry`).
 * - `beforeRetry` runs before each retry (e.g. to fetch a fresh presigned URL for that part).
 * - The first part that fails for good stops the generator and aborts the other requests; the
 *   engine waits for every worker to settle before it rejects (no request outlives the call).
 * - It never reports success with a part missing: every part passed in must have an ack.
 * - `hash: true` computes the sha256 of the WHOLE file: as the generator takes each part (file
 *   order) the hash is given the file's bytes up to that part's end, read from disk by the
 *   hashing thread itself for large files (core/hash-thread.ts; no part bytes cross threads, and
 *   only the final digest is waited for), on the event loop for small ones. A resume (`parts` =
 *   only the missing ones) hashes the ranges that are not sent the same way. If the file changes
 *   while it is sent, the server's digest of what it received cannot match ours.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BatchupError, interrupted, toBatchupError } from './errors.js';
import { runningHash, type RunningHash } from './hash-thread.js';
import { MemoryBudget } from './memory.js';
import { DEFAULT_RETRY, NO_ATTEMPTS, decideRetry, sleep, type RetryPolicy } from './retry.js';

export { MemoryBudget } from './memory.js';

export interface Part {
  /** 1-based. */
  number: number;
  offset: number;
  size: number;
}

/** Parts of `partSize` bytes covering `size` bytes; the last may be shorter. Empty file: no parts. */
export function planParts(size: number, partSize: number): Part[] {
  if (!(Number.isSafeInteger(size) && size >= 0)) throw new RangeError(`file size must be a non-negative integer, got ${size}`);
  if (!(Number.isSafeInteger(partSize) && partSize > 0)) throw new RangeError(`part size must be a positive integer, got ${partSize}`);
  const parts: Part[] = [];
  for (let offset = 0, number = 1; offset < size; offset += partSize, number++) {
    parts.push({ number, offset, size: Math.min(partSize, size - offset) });
  }
  return parts;
}

/** One part's bytes as a request body: its length and a stream of it read from disk. */
export interface PartBody {
  length: number;
  stream: AsyncIterable<Uint8Array>;
}

export interface SendPartsOptions<A> {
  path: string;
  /** Bytes the file must have (as scanned); a file that changed fails with VALIDATION. */
  size: number;
  /** The parts still to send (a resume passes only the missing ones). */
  parts: Part[];
  /** Parts of this file in flight (1 = strictly in order: part n+1 is read after n is acked). */
  concurrency: number;
  /**
   * One request for one part; throws (a BatchupError, ideally) when it fails. The body's stream
   * may be read once; each attempt gets a fresh one.
   */
  send(part: Part, body: PartBody, signal: AbortSignal | undefined, attempt: number): Promise<A>;
  /** After a part is acknowledged (persist it, count it). */
  onAck?(part: Part, ack: A): void;
  /** Bytes of this call's parts acknowledged so far. */
  onProgress?(bytesAcked: number): void;
  /** Before retry number `attempt` (1-based) of a part, after the backoff (e.g. fetch a fresh URL). */
  beforeRetry?(part: Part, err: BatchupError, attempt: number): Promise<void>;
  /** When a part failed and will be retried after `delayMs`. */
  onRetry?(part: Part, err: BatchupError, attempt: number, delayMs: number): void;
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
  /** Shared budget (the run's --max-memory). Default: concurrency × the slice of the largest part, at least that part. */
  memory?: MemoryBudget;
  /** Compute the sha256 of the whole file while sending (see the module doc for resumes). */
  hash?: boolean;
}

export interface SendPartsResult<A> {
  /** Ack per part number, one for every part passed in. */
  acks: Map<number, A>;
  /** sha256 (hex) of the whole file, when `hash` was asked. */
  sha256?: string;
}

/**
 * Bytes of a part read from disk at a time: the memory a part in flight holds. Large enough that
 * the socket takes each slice in one write and the HTTP client waits for it to drain before it
 * asks for the next (the slice is then free to be read into again), small enough that 20 parts
 * in flight hold 20 MiB.
 */
export const PART_SLICE = 1024 * 1024;

/** Free slice buffers per budget, reused for every part of the run. */
const pools = new WeakMap<MemoryBudget, { free: Buffer[]; bytes: number }>();

function takeSlice(memory: MemoryBudget): Buffer {
  const pool = pools.get(memory);
  const b = pool?.free.pop();
  if (b) {
    pool!.bytes -= b.length;
    return b;
  }
  return Buffer.allocUnsafeSlow(PART_SLICE);
}

/** Keep a slice for reuse while free slices + bytes held stay within the budget. */
function giveSlice(memory: MemoryBudget, buf: Buffer): void {
  let pool = pools.get(memory);
  if (!pool) pools.set(memory, (pool = { free: [], bytes: 0 }));
  if (pool.bytes + buf.length + memory.inUse > memory.maxBytes) return;
  pool.free.push(buf);
  pool.bytes += buf.length;
}

/** Bytes a part in flight pays to the budget: its slice (a part smaller than a slice, its size). */
export const sliceBytes = (partSize: number): number => Math.min(partSize, PART_SLICE);

function checkParts(parts: Part[], size: number): Part[] {
  const sorted = [...parts].sort((a, b) => a.offset - b.offset);
  const numbers = new Set<number>();
  let end = 0;
  for (const p of sorted) {
    if (!(Number.isSafeInteger(p.number) && p.number >= 1)) throw new RangeError(`part number must be a positive integer, got ${p.number}`);
    if (numbers.has(p.number)) throw new RangeError(`part ${p.number} is listed twice`);
    numbers.add(p.number);
    if (!(p.size > 0) || p.offset < end || p.offset + p.size > size) {
      throw new RangeError(`part ${p.number} (${p.offset}+${p.size}) overlaps another part or lies outside the file (${size} bytes)`);
    }
    end = p.offset + p.size;
  }
  return sorted;
}

async function readAt(fh: FileHandle, buf: Buffer, length: number, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new BatchupError('VALIDATION', `${path}: file changed while uploading (ended before byte ${position + length})`, { retryable: false });
    }
    done += bytesRead;
  }
}

/**
 * One attempt's body: the part read from disk slice by slice as the consumer asks. A whole
 * slice goes out in the pooled buffer itself, which is read into again only when the consumer
 * asks for the next piece: the HTTP client asks once the socket took the slice (a write of
 * PART_SLICE bytes always waits for 'drain'), or once the request is over. A shorter piece (the
 * tail of a part, a part smaller than a slice) is a buffer of its own, so nothing the socket may
 * still be writing is ever overwritten. Once `over()` says the attempt ended, nothing more is read.
 */
async function* partStream(file: FileHandle, part: Part, path: string, memory: MemoryBudget, over: () => boolean): AsyncGenerator<Buffer> {
  let slice: Buffer | undefined;
  try {
    for (let at = 0; at < part.size; ) {
      if (over()) return;
      const n = Math.min(PART_SLICE, part.size - at);
      const buf = n === PART_SLICE ? (slice ??= takeSlice(memory)) : Buffer.allocUnsafe(n);
      await readAt(file, buf, n, part.offset + at, path);
      at += n;
      yield buf;
    }
  } finally {
    if (slice) giveSlice(memory, slice);
  }
}

export async function sendParts<A>(o: SendPartsOptions<A>): Promise<SendPartsResult<A>> {
  const parts = checkParts(o.parts, o.size);
  const concurrency = Math.max(1, Math.floor(o.concurrency) || 1);
  const largest = parts.reduce((m, p) => Math.max(m, p.size), 0);
  const memory = o.memory ?? new MemoryBudget(Math.max(1, largest, sliceBytes(largest) * Math.min(concurrency, Math.max(1, parts.length))));
  if (largest > memory.maxBytes) {
    // Fails the same way acquire() would, but before anything is read or sent.
    await memory.acquire(largest);
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...o.retry };
  const acks = new Map<number, A>();
  if (o.signal?.aborted) throw interrupted();

  // One controller for this file: the caller's abort, or our first failure, stops every request.
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let fh: FileHandle | undefined;
  let hash: RunningHash | undefined;
  try {
    fh = await open(o.path, 'r');
    const st = await fh.stat();
    if (st.size !== o.size) {
      throw new BatchupError('VALIDATION', `${o.path}: file changed since it was scanned (${o.size} bytes then, ${st.size} now)`, { retryable: false });
    }
    const file = fh;
    if (o.hash) hash = runningHash(o.size);
    // The hash is fed in file order and never awaited until the digest; its first failure is kept.
    let hashedTo = 0;
    let hashed: Promise<void> = Promise.resolve();
    const hashTo = (to: number) => {
      if (!hash || to <= hashedTo) return;
      const from = hashedTo;
      hashedTo = to;
      const step = hash.updateFromFile(o.path, from, to - from);
      hashed = Promise.all([hashed, step]).then(() => undefined);
      hashed.catch(() => undefined);
    };

    // ---- the one part generator, in file order ----
    let next = 0;
    let stopped = false;
    const pull = (): Part | undefined => (stopped || next >= parts.length ? undefined : parts[next++]);

    let ackedBytes = 0;
    let firstError: BatchupError | undefined;

    const worker = async (): Promise<void> => {
      for (;;) {
        const part = pull();
        if (!part) return;
        hashTo(part.offset + part.size);
        const held = sliceBytes(part.size);
        await memory.acquire(held, inner.signal);
        let attempts = NO_ATTEMPTS;
        try {
          for (let attempt = 0; ; attempt++) {
            let over = false;
            try {
              const body: PartBody = { length: part.size, stream: partStream(file, part, o.path, memory, () => over || inner.signal.aborted) };
              const ack = await o.send(part, body, inner.signal, attempt);
              over = true;
              if (inner.signal.aborted) throw interrupted();
              acks.set(part.number, ack);
              ackedBytes += part.size;
              o.onAck?.(part, ack);
              o.onProgress?.(ackedBytes);
              break;
            } catch (raw) {
              over = true;
              const err = toBatchupError(raw);
              if (inner.signal.aborted) throw o.signal?.aborted ? interrupted() : err;
              const d = decideRetry(attempts, err, policy);
              if (!d.retry) throw err;
              attempts = d.attempts;
              const delayMs = d.delayMs;
              o.onRetry?.(part, err, attempt + 1, delayMs);
              // The part keeps its budget while it waits: the retry streams it again from disk.
              await sleep(delayMs, inner.signal);
              await o.beforeRetry?.(part, err, attempt + 1);
            }
          }
        } finally {
          memory.release(held);
        }
      }
    };

    const workers = Array.from({ length: Math.min(concurrency, parts.length) }, () =>
      worker().catch((raw) => {
        const err = toBatchupError(raw);
        // The first real failure wins; the INTERRUPTED errors it causes in other workers do not.
        if (!firstError || (firstError.code === 'INTERRUPTED' && err.code !== 'INTERRUPTED')) firstError = err;
        stopped = true;
        inner.abort();
      }),
    );
    await Promise.all(workers);
    if (o.signal?.aborted) throw interrupted();
    if (firstError) throw firstError;
    hashTo(o.size);
    await hashed;
    const sha256 = hash ? await hash.digest() : undefined;

    const missing = parts.filter((p) => !acks.has(p.number));
    if (missing.length) {
      throw new BatchupError(
        'INTERNAL',
        `Expected ${parts.length} part(s) but uploaded ${parts.length - missing.length} (missing: ${missing.map((p) => p.number).join(', ')})`,
        { retryable: false },
      );
    }
    return { acks, sha256 };
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
    inner.abort(); // nothing may outlive the call
    hash?.close();
    await fh?.close().catch(() => undefined);
  }
}
