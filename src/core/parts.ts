/**
 * The part engine: send a file as numbered parts, several in flight, in bounded memory.
 * Shared by every provider that splits files (hybrid chunks, aihub multipart).
 *
 * Shape (after aws-sdk lib-storage's `Upload`):
 * - N workers pull from ONE part generator. The generator walks the parts in file order; for each
 *   it first pays the part's size to the shared {@link MemoryBudget}, then reads the part from
 *   disk at its offset. So bytes held = parts in flight × part size, never more than the budget,
 *   however many files and batches share it. A part larger than the whole budget is a USAGE error.
 * - Each part is retried on its own (the one decision of core/retry.ts: `decideRetry`).
 *   While a part waits for its retry its memory is given back; the retry pays again and re-reads
 *   the part from disk. Nothing is kept beyond the parts in flight.
 * - `beforeRetry` runs before each retry (e.g. to fetch a fresh presigned URL for that part).
 * - The first part that fails for good stops the generator and aborts the other requests; the
 *   engine waits for every worker to settle before it rejects (no request outlives the call).
 * - It never reports success with a part missing: every part passed in must have an ack.
 * - `hash: true` computes the sha256 of the WHOLE file while reading, in generator (file) order,
 *   so there is no second pass. On a resume (`parts` = only the missing ones) the ranges that are
 *   not sent are read from disk and hashed without being uploaded, in the same in-order walk;
 *   those reads use a small fixed buffer outside the budget (1 MiB). Large files hash on a
 *   worker thread (core/hash-thread.ts), reading the part buffers in place (shared memory): a
 *   buffer goes back to the pool only once it is both acknowledged and hashed.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { BatchupError, interrupted, toBatchupError } from './errors.js';
import { runningHash, sharedBuffer, type RunningHash } from './hash-thread.js';
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

export interface SendPartsOptions<A> {
  path: string;
  /** Bytes the file must have (as scanned); a file that changed fails with VALIDATION. */
  size: number;
  /** The parts still to send (a resume passes only the missing ones). */
  parts: Part[];
  /** Parts of this file in flight (1 = strictly in order: part n+1 is read after n is acked). */
  concurrency: number;
  /** One request for one part; throws (a BatchupError, ideally) when it fails. */
  send(part: Part, body: Buffer, signal: AbortSignal | undefined, attempt: number): Promise<A>;
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
  /** Shared budget (the run's --max-memory). Default: concurrency × the largest part. */
  memory?: MemoryBudget;
  /** Compute the sha256 of the whole file while reading (see the module doc for resumes). */
  hash?: boolean;
}

export interface SendPartsResult<A> {
  /** Ack per part number, one for every part passed in. */
  acks: Map<number, A>;
  /** sha256 (hex) of the whole file, when `hash` was asked. */
  sha256?: string;
}

const HASH_READ = 1024 * 1024;

/** Reusable part buffers per budget, so RSS stays flat over a long upload. */
const pools = new WeakMap<MemoryBudget, { free: Buffer[]; bytes: number }>();

function takeBuffer(memory: MemoryBudget, size: number): Buffer {
  const pool = pools.get(memory);
  if (pool) {
    const i = pool.free.findIndex((b) => b.length === size);
    if (i >= 0) {
      const [b] = pool.free.splice(i, 1);
      pool.bytes -= size;
      return b!;
    }
  }
  return sharedBuffer(size);
}

/** Keep a buffer for reuse while free buffers + held bytes stay within the budget. */
function recycle(memory: MemoryBudget, buf: Buffer): void {
  let pool = pools.get(memory);
  if (!pool) pools.set(memory, (pool = { free: [], bytes: 0 }));
  if (pool.bytes + memory.inUse > memory.maxBytes) return;
  pool.free.push(buf);
  pool.bytes += buf.length;
}

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

export async function sendParts<A>(o: SendPartsOptions<A>): Promise<SendPartsResult<A>> {
  const parts = checkParts(o.parts, o.size);
  const concurrency = Math.max(1, Math.floor(o.concurrency) || 1);
  const largest = parts.reduce((m, p) => Math.max(m, p.size), 0);
  const memory = o.memory ?? new MemoryBudget(Math.max(1, largest * Math.min(concurrency, Math.max(1, parts.length))));
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
    let hashedTo = 0;
    const hashRange = async (from: number, to: number) => {
      const buf = sharedBuffer(Math.min(HASH_READ, to - from));
      for (let at = from; at < to; ) {
        if (inner.signal.aborted) throw interrupted();
        const n = Math.min(buf.length, to - at);
        await readAt(file, buf, n, at, o.path);
        await hash!.update(buf.subarray(0, n));
        at += n;
      }
    };

    // ---- the one part generator (serialised: reads and hashing happen in file order) ----
    let next = 0;
    let stopped = false;
    let gate: Promise<unknown> = Promise.resolve();
    const pull = (): Promise<{ part: Part; buf: Buffer; hashed?: Promise<void> } | undefined> => {
      const run = gate.then(async () => {
        if (stopped || next >= parts.length) return undefined;
        const part = parts[next++]!;
        await memory.acquire(part.size, inner.signal);
        const buf = takeBuffer(memory, part.size);
        try {
          if (hash && part.offset > hashedTo) await hashRange(hashedTo, part.offset);
          await readAt(file, buf, part.size, part.offset, o.path);
          if (hash) {
            // Not awaited here: hashing overlaps with sending. A failed thread fails the digest.
            const hashed = hash.update(buf.subarray(0, part.size));
            hashed.catch(() => undefined);
            hashedTo = part.offset + part.size;
            return { part, buf, hashed };
          }
        } catch (err) {
          memory.release(part.size);
          throw err;
        }
        return { part, buf };
      });
      gate = run.catch(() => undefined);
      return run;
    };

    let ackedBytes = 0;
    let firstError: BatchupError | undefined;

    const worker = async (): Promise<void> => {
      for (;;) {
        const pulled = await pull();
        if (!pulled) return;
        const { part, hashed } = pulled;
        let buf: Buffer | undefined = pulled.buf;
        let held = part.size;
        let attempts = NO_ATTEMPTS;
        try {
          for (let attempt = 0; ; attempt++) {
            try {
              if (!buf) {
                await memory.acquire(part.size, inner.signal);
                held = part.size;
                buf = takeBuffer(memory, part.size);
                await readAt(file, buf, part.size, part.offset, o.path);
              }
              const body = buf.length === part.size ? buf : buf.subarray(0, part.size);
              const ack = await o.send(part, body, inner.signal, attempt);
              if (inner.signal.aborted) throw interrupted();
              acks.set(part.number, ack);
              // Reused only once the hashing thread is done reading it.
              if (buf === pulled.buf && hashed) await hashed.catch(() => undefined);
              recycle(memory, buf);
              buf = undefined;
              memory.release(held);
              held = 0;
              ackedBytes += part.size;
              o.onAck?.(part, ack);
              o.onProgress?.(ackedBytes);
              break;
            } catch (raw) {
              const err = toBatchupError(raw);
              if (inner.signal.aborted) throw o.signal?.aborted ? interrupted() : err;
              const d = decideRetry(attempts, err, policy);
              if (!d.retry) throw err;
              attempts = d.attempts;
              const delayMs = d.delayMs;
              o.onRetry?.(part, err, attempt + 1, delayMs);
              // Give the memory back while waiting; the retry pays again and re-reads from disk.
              // (The buffer is not reused: a failed request may still reference it.)
              buf = undefined;
              if (held) memory.release(held);
              held = 0;
              await sleep(delayMs, inner.signal);
              await o.beforeRetry?.(part, err, attempt + 1);
            }
          }
        } finally {
          if (held) memory.release(held);
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
    if (hash && hashedTo < o.size) await hashRange(hashedTo, o.size);
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
