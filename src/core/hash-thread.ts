/**
 * A running sha256 over bytes given in order. For large files it runs on a worker thread: a
 * 5 MiB part costs ~3 ms of hashing, which on the event loop delays the sockets of every part in
 * flight; on a worker it overlaps with sending. The worker reads the caller's buffer in place
 * when it is backed by a SharedArrayBuffer (the part engine's buffers are), so nothing is copied;
 * `update` resolves once the worker is done with the buffer, and only then may it be reused.
 * Small files hash inline: starting a thread costs more than it saves.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface RunningHash {
  /** Resolves when `buf` may be reused. */
  update(buf: Buffer): Promise<void>;
  /** Hex digest of everything given so far; the hash is finished. */
  digest(): Promise<string>;
  /** Frees the thread (idempotent; also after a failure). */
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

// CommonJS, evaluated by the worker: messages are handled strictly in the order they were sent.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const h = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m.digest) return parentPort.postMessage({ id: m.id, digest: h.digest('hex') });
  h.update(new Uint8Array(m.data, m.offset, m.length));
  parentPort.postMessage({ id: m.id });
});
`;

class ThreadHash implements RunningHash {
  readonly #worker = new Worker(WORKER_SOURCE, { eval: true });
  readonly #waiting = new Map<number, { ok: (digest?: string) => void; fail: (err: Error) => void }>();
  #next = 0;
  #failed?: Error;

  constructor() {
    this.#worker.unref();
    this.#worker.on('message', (m: { id: number; digest?: string }) => {
      const w = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      w?.ok(m.digest);
    });
    const fail = (err: Error) => {
      this.#failed = err;
      for (const w of this.#waiting.values()) w.fail(err);
      this.#waiting.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', () => fail(new Error('the hashing thread stopped')));
  }

  #send(msg: object, transferable?: Buffer): Promise<string | undefined> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise((ok, fail) => {
      this.#waiting.set(id, { ok, fail });
      if (!transferable) return this.#worker.postMessage({ ...msg, id });
      const shared = transferable.buffer instanceof SharedArrayBuffer;
      // Not shared memory: the worker gets a copy, and the caller may reuse its buffer at once.
      const data = shared ? transferable.buffer : transferable.buffer.slice(transferable.byteOffset, transferable.byteOffset + transferable.length);
      this.#worker.postMessage({ ...msg, id, data, offset: shared ? transferable.byteOffset : 0, length: transferable.length });
    });
  }

  async update(buf: Buffer): Promise<void> {
    await this.#send({}, buf);
  }

  async digest(): Promise<string> {
    return (await this.#send({ digest: true }))!;
  }

  close(): void {
    void this.#worker.terminate();
  }
}
