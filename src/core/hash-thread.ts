/**
 * A running sha256 over bytes given in order. For large files it runs on a worker thread: a
 * 5 MiB part costs ~3 ms of hashing, which on the event loop delays the sockets of every part in
 * flight; on a worker it overlaps with sending. The thread reads ranges of a file itself
 * (`updateFromFile`: the part engine hashing the file it sends, the sandbox hashing what it
 * stored), so no bytes are posted between threads and the caller holds no buffer for it; it can
 * also be given a buffer, read in place when it is backed by a SharedArrayBuffer (`update`
 * resolves once the thread is done with it). One thread serves every hash of the process; small
 * files hash inline (a round trip to the thread costs more than it saves).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export interface RunningHash {
  /** Resolves when `buf` may be reused. */
  update(buf: Buffer): Promise<void>;
  /**
   * Feeds `length` bytes of the file at `path` from `start`. Calls are applied in the order they
   * are made, whether or not the earlier ones were awaited; a file shorter than asked fails it.
   */
  updateFromFile(path: string, start: number, length: number): Promise<void>;
  /** Hex digest of everything given so far; the hash is finished. */
  digest(): Promise<string>;
  /** Forgets an unfinished hash (idempotent; harmless after digest or a failure). */
  close(): void;
}

/** Files from this size on hash on a thread. */
export const THREAD_HASH_MIN_BYTES = 64 * 1024 * 1024;

/** A shared-memory buffer: hashed by the worker without a copy. */
export const sharedBuffer = (size: number): Buffer => Buffer.from(new SharedArrayBuffer(size));

export function runningHash(fileSize: number): RunningHash {
  return fileSize >= THREAD_HASH_MIN_BYTES ? new ThreadHash() : inlineHash();
}

/** Bytes an inline hash reads from a file at a time. */
const INLINE_READ = 1024 * 1024;

function inlineHash(): RunningHash {
  const h = createHash('sha256');
  // File ranges are read one after another, in the order asked, whatever the caller awaits. A
  // failed one fails the digest too: a hash missing a range is worth nothing.
  let queue: Promise<void> = Promise.resolve();
  let failed: unknown;
  const fromFile = async (path: string, start: number, length: number) => {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(INLINE_READ, length));
      for (let at = start, end = start + length; at < end; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
        if (bytesRead === 0) throw new Error(`file ended early at byte ${at}`);
        h.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
  };
  return {
    update: async (buf) => {
      await queue;
      h.update(buf);
    },
    updateFromFile(path, start, length) {
      const step = queue.then(() => (failed ? Promise.reject(failed) : fromFile(path, start, length)));
      queue = step.catch((err: unknown) => void (failed ??= err));
      return step;
    },
    digest: async () => {
      await queue;
      if (failed) throw failed;
      return h.digest('hex');
    },
    close() {},
  };
}

// CommonJS, evaluated by the worker: one sha256 per stream id; messages are handled in the order
// sent. File ranges are read synchronously: blocking is what this thread is for.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const streams = new Map();
const chunk = Buffer.allocUnsafe(1024 * 1024);
function hashFile(h, path, start, length) {
  const fd = openSync(path, 'r');
  try {
    for (let at = start, end = start + length; at < end; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
      if (n === 0) throw new Error('file ended early at byte ' + at);
      h.update(chunk.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}
const failed = new Map();
parentPort.on('message', (m) => {
  if (m.drop) {
    streams.delete(m.stream);
    return void failed.delete(m.stream);
  }
  // A hash missing a range is worth nothing: once one failed, so does everything after it.
  if (failed.has(m.stream)) {
    const error = failed.get(m.stream);
    if (m.digest) failed.delete(m.stream);
    return void parentPort.postMessage({ id: m.id, error });
  }
  let h = streams.get(m.stream);
  if (!h) streams.set(m.stream, (h = createHash('sha256')));
  try {
    if (m.digest) {
      streams.delete(m.stream);
      return parentPort.postMessage({ id: m.id, digest: h.digest('hex') });
    }
    if (m.path !== undefined) hashFile(h, m.path, m.start, m.length);
    else h.update(new Uint8Array(m.data, m.offset, m.length));
    parentPort.postMessage({ id: m.id });
  } catch (err) {
    const error = String((err && err.message) || err);
    streams.delete(m.stream);
    failed.set(m.stream, error);
    parentPort.postMessage({ id: m.id, error });
  }
});
`;

type Message = { stream: number; digest?: boolean; drop?: boolean; path?: string; start?: number; length?: number };
type Reply = { id: number; digest?: string; error?: string };

/** The one hashing thread of the process (a thread per file would cost ~10 MB each). */
class HashThread {
  readonly #worker = new Worker(WORKER_SOURCE, { eval: true });
  readonly #waiting = new Map<number, { ok: (digest?: string) => void; fail: (err: Error) => void }>();
  #next = 0;
  #streams = 0;
  failed?: Error;

  constructor() {
    this.#worker.on('message', (m: Reply) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (m.error !== undefined) w?.fail(new Error(m.error));
      else w?.ok(m.digest);
    });
    const fail = (err: Error) => {
      this.failed = err;
      if (thread === this) thread = undefined;
      for (const w of this.#waiting.values()) w.fail(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', () => fail(new Error('the hashing thread stopped')));
    // The thread keeps the process alive only while an answer is awaited (see send). Unref'd
    // after the listeners: adding a 'message' listener refs it again.
    this.#worker.unref();
  }

  newStream(): number {
    return this.#streams++;
  }

  send(msg: Message, buf?: Buffer): Promise<string | undefined> {
    if (this.failed) return Promise.reject(this.failed);
    if (msg.drop) {
      this.#worker.postMessage(msg);
      return Promise.resolve(undefined);
    }
    const id = this.#next++;
    if (this.#waiting.size === 0) this.#worker.ref();
    return new Promise((ok, fail) => {
      this.#waiting.set(id, { ok, fail });
      if (!buf) return this.#worker.postMessage({ ...msg, id });
      const shared = buf.buffer instanceof SharedArrayBuffer;
      // Not shared memory: the worker gets a copy.
      const data = shared ? buf.buffer : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
      this.#worker.postMessage({ ...msg, id, data, offset: shared ? buf.byteOffset : 0, length: buf.length });
    });
  }
}

let thread: HashThread | undefined;

/** A running sha256 on the process's hashing thread. */
export class ThreadHash implements RunningHash {
  readonly #thread = (thread ??= new HashThread());
  readonly #stream = this.#thread.newStream();
  #open = true;

  async update(buf: Buffer): Promise<void> {
    await this.#thread.send({ stream: this.#stream }, buf);
  }

  /** Feeds `length` bytes of the file at `path` from `start`, read by the thread itself. */
  async updateFromFile(path: string, start: number, length: number): Promise<void> {
    await this.#thread.send({ stream: this.#stream, path, start, length });
  }

  async digest(): Promise<string> {
    this.#open = false;
    return (await this.#thread.send({ stream: this.#stream, digest: true }))!;
  }

  close(): void {
    if (this.#open && !this.#thread.failed) void this.#thread.send({ stream: this.#stream, drop: true });
    this.#open = false;
  }
}
