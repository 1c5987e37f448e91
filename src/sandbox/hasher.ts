/**
 * Running sha256 digests of file ranges, computed on a worker thread so that hashing gigabytes
 * (hybrid's assembled uploads) does not take turns with the HTTP server on the main thread.
 * A digest is named by an id; `update(id, path, start, length)` reads that range of the file and
 * feeds it in, `digest(id)` finishes (and forgets) it. Updates of one id must be awaited one by one
 * (ranges are hashed in the order they are given). The worker's code is inline (eval), so it runs
 * the same from `dist/` and from the TypeScript sources under test.
 */
import { Worker } from 'node:worker_threads';

const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { open } = require('node:fs/promises');
const hashes = new Map();
const buf = Buffer.allocUnsafe(1024 * 1024);
let queue = Promise.resolve();
parentPort.on('message', (m) => {
  queue = queue.then(async () => {
    try {
      if (m.op === 'update') {
        let h = hashes.get(m.id);
        if (!h) hashes.set(m.id, (h = createHash('sha256')));
        const fh = await open(m.path, 'r');
        try {
          for (let at = m.start, end = m.start + m.length; at < end; ) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - at), at);
            if (bytesRead === 0) throw new Error('file ended early at byte ' + at);
            h.update(buf.subarray(0, bytesRead));
            at += bytesRead;
          }
        } finally {
          await fh.close();
        }
        parentPort.postMessage({ seq: m.seq });
      } else if (m.op === 'digest') {
        const h = hashes.get(m.id) || createHash('sha256');
        hashes.delete(m.id);
        parentPort.postMessage({ seq: m.seq, hex: h.digest('hex') });
      } else {
        hashes.delete(m.id);
        parentPort.postMessage({ seq: m.seq });
      }
    } catch (err) {
      parentPort.postMessage({ seq: m.seq, error: String(err && err.message || err) });
    }
  });
});
`;

type Reply = { seq: number; hex?: string; error?: string };

export class Hasher {
  private worker?: Worker;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  private call(msg: Record<string, unknown>): Promise<Reply> {
    if (!this.worker) {
      const w = new Worker(WORKER_CODE, { eval: true });
      w.unref();
      w.on('message', (r: Reply) => {
        const p = this.pending.get(r.seq);
        this.pending.delete(r.seq);
        if (!p) return;
        if (r.error) p.reject(new Error(r.error));
        else p.resolve(r);
      });
      w.on('error', (err) => this.failAll(err));
      w.on('exit', () => {
        this.worker = undefined;
        this.failAll(new Error('hash worker exited'));
      });
      this.worker = w;
    }
    const seq = ++this.seq;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.postMessage({ ...msg, seq });
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async update(id: string, path: string, start: number, length: number): Promise<void> {
    await this.call({ op: 'update', id, path, start, length });
  }

  async digest(id: string): Promise<string> {
    return (await this.call({ op: 'digest', id })).hex!;
  }

  async drop(id: string): Promise<void> {
    await this.call({ op: 'drop', id });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('hasher closed'));
  }
}
