import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { drainOrClose } from '../../src/sandbox/kit/store.js';

/** A writable that holds every write until `release()` (so write() reports back-pressure). */
function slowSink() {
  let pending: (() => void) | undefined;
  const ws = new Writable({
    highWaterMark: 4,
    write(_chunk, _enc, cb) {
      pending = () => cb();
    },
  });
  return { ws, release: () => pending?.() };
}

const listeners = (ws: Writable) => ['drain', 'close', 'error'].map((ev) => ws.listenerCount(ev));

describe('drainOrClose', () => {
  it('waits for drain, then leaves no listener behind', async () => {
    const { ws, release } = slowSink();
    expect(ws.write(Buffer.alloc(8))).toBe(false);
    let done = false;
    const waiting = drainOrClose(ws).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    release();
    await waiting;
    expect(listeners(ws)).toEqual([0, 0, 0]);
  });

  it('resolves when the stream closes or fails instead of draining', async () => {
    const closed = slowSink();
    closed.ws.write(Buffer.alloc(8));
    const a = drainOrClose(closed.ws);
    closed.ws.destroy();
    await a;
    expect(listeners(closed.ws)).toEqual([0, 0, 0]);

    const failed = slowSink();
    failed.ws.on('error', () => undefined); // the owner's handler, as writeBody has
    failed.ws.write(Buffer.alloc(8));
    const b = drainOrClose(failed.ws);
    failed.ws.destroy(new Error('disk full'));
    await b;
    expect(listeners(failed.ws)).toEqual([0, 0, 1]);
  });

  it('many waits on one long body do not pile up listeners', async () => {
    const { ws, release } = slowSink();
    for (let i = 0; i < 200; i++) {
      expect(ws.write(Buffer.alloc(8))).toBe(false);
      const w = drainOrClose(ws);
      release();
      await w;
    }
    expect(listeners(ws)).toEqual([0, 0, 0]);
  });
});
