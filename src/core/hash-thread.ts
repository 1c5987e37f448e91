/**
 * A running sha256 over bytes given in order. For large files it runs on a worker thread: a
 * 5 MiB part costs ~3 ms of hashing, which on the event loop delays the sockets of every part in
 * flight; on a worker it overlaps with sending. The worker reads the caller's buffer in place
 * when it is backed by a SharedArrayBuffer (the part engine's buffers are), so nothing is copied;
 * `update` resolves once the worker is done with the buffer, and only then may it be reused.
 * It can also read a range of a file itself (`updateFromFile`: the sandbox hashing what it
 * stored). One thread serves every hash of the process; small files hash inline (a round trip to
 * the thread costs more than it saves).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface RunningHash {
  /** Resolves when `buf` may be reused. */
  update(buf: Buffer): Promise<void>;
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

function inlineHash(): RunningHash {
  const h = createHash('sha256');
  return {
    update: async (buf) => void h.update(buf),
    digest: async () => h.digest('hex'),
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
parentPort.on('message', (m) => {
  if (m.drop) return void streams.delete(m.stream);
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
    streams.delete(m.stream); // a hash missing a range is worth nothing
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
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
