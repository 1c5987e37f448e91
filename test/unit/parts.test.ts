/** The part engine: planParts, MemoryBudget and sendParts with a fake `send` (no HTTP). */
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchupError } from '../../src/core/errors.js';
import { MemoryBudget, parseByteSize } from '../../src/core/memory.js';
import { PART_SLICE, planParts, sendParts, type Part, type PartBody } from '../../src/core/parts.js';
import { THREAD_HASH_MIN_BYTES, ThreadHash, runningHash, sharedBuffer } from '../../src/core/hash-thread.js';

const FAST = { baseMs: 1, capMs: 5 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The sha256 of a part body, read as an HTTP client would: each piece used before the next is asked for. */
async function bodySha(body: PartBody): Promise<string> {
  const h = createHash('sha256');
  let n = 0;
  for await (const piece of body.stream) {
    h.update(piece);
    n += piece.length;
  }
  expect(n).toBe(body.length);
  return h.digest('hex');
}
const retryable = (msg = 'boom') => new BatchupError('NETWORK', msg);
const fatal = (msg = 'nope') => new BatchupError('HTTP', msg, { status: 400, retryable: false });
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function file(size: number): Promise<{ path: string; data: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'batchup-parts-'));
  const data = randomBytes(size);
  const path = join(dir, 'f.bin');
  await writeFile(path, data);
  return { path, data };
}

describe('planParts', () => {
  it('covers the file with 1-based parts, the last one shorter', () => {
    expect(planParts(0, 5)).toEqual([]);
    expect(planParts(10, 5)).toEqual([
      { number: 1, offset: 0, size: 5 },
      { number: 2, offset: 5, size: 5 },
    ]);
    const p = planParts(11, 5);
    expect(p.map((x) => x.size)).toEqual([5, 5, 1]);
    expect(p[2]).toEqual({ number: 3, offset: 10, size: 1 });
    expect(planParts(1024 ** 3, 5 * 1024 ** 2)).toHaveLength(205);
  });
  it('rejects nonsense', () => {
    expect(() => planParts(10, 0)).toThrow(RangeError);
    expect(() => planParts(-1, 5)).toThrow(RangeError);
    expect(() => planParts(10, 2.5)).toThrow(RangeError);
  });
});

describe('MemoryBudget', () => {
  it('holds up to the limit, then queues first come first served', async () => {
    const m = new MemoryBudget(10);
    await m.acquire(6);
    const order: string[] = [];
    const a = m.acquire(6).then(() => order.push('a'));
    const b = m.acquire(1).then(() => order.push('b')); // fits, but must not overtake a
    await tick();
    expect(order).toEqual([]);
    m.release(6);
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(m.inUse).toBe(7);
    expect(m.peak).toBe(7);
  });
  it('a request over the whole budget is a usage error; abort rejects a waiter', async () => {
    const m = new MemoryBudget(10);
    await expect(m.acquire(11)).rejects.toMatchObject({ code: 'USAGE' });
    await m.acquire(10);
    const ctl = new AbortController();
    const p = m.acquire(5, ctl.signal);
    ctl.abort();
    await expect(p).rejects.toMatchObject({ code: 'INTERRUPTED' });
    m.release(10);
    expect(m.inUse).toBe(0);
    expect(() => m.release(1)).toThrow(RangeError);
  });
  it('parseByteSize', () => {
    expect(parseByteSize('65536')).toBe(65536);
    expect(parseByteSize('64M')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('64MiB')).toBe(64 * 1024 ** 2);
    expect(parseByteSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(() => parseByteSize('lots')).toThrow(/size like/);
    expect(() => parseByteSize('0')).toThrow(/positive/);
  });
});

describe('sendParts', () => {
  it('sends every part with its bytes and hashes the whole file', async () => {
    const { path, data } = await file(100_000);
    const parts = planParts(data.length, 7_000);
    const got = new Map<number, string>();
    let progress = 0;
    const res = await sendParts({
      path,
      size: data.length,
      parts,
      concurrency: 4,
      hash: true,
      send: async (p, body) => {
        got.set(p.number, await bodySha(body));
        await tick(Math.random() * 3);
        return `etag-${p.number}`;
      },
      onProgress: (n) => (progress = n),
    });
    expect(res.sha256).toBe(sha(data));
    expect(res.acks.size).toBe(parts.length);
    expect(res.acks.get(3)).toBe('etag-3');
    for (const p of parts) expect(got.get(p.number)).toBe(sha(data.subarray(p.offset, p.offset + p.size)));
    expect(progress).toBe(data.length);
  });

  it('concurrency 1 sends strictly in order, part n+1 only after n is acked', async () => {
    const { path, data } = await file(50_000);
    const events: string[] = [];
    await sendParts({
      path,
      size: data.length,
      parts: planParts(data.length, 6_000).reverse(), // order of the list does not matter
      concurrency: 1,
      send: async (p) => {
        events.push(`start ${p.number}`);
        await tick(1);
        events.push(`ack ${p.number}`);
        return p.number;
      },
    });
    const want = Array.from({ length: 9 }, (_, i) => [`start ${i + 1}`, `ack ${i + 1}`]).flat();
    expect(events).toEqual(want);
  });

  it('retries a failed part, re-reading it, with beforeRetry before each retry', async () => {
    const { path, data } = await file(30_000);
    const parts = planParts(data.length, 10_000);
    const attempts: number[] = [];
    const before: number[] = [];
    const bodies: string[] = [];
    const res = await sendParts({
      path,
      size: data.length,
      parts,
      concurrency: 2,
      retry: FAST,
      send: async (p, body, _signal, attempt) => {
        if (p.number !== 2) return 'ok';
        attempts.push(attempt);
        bodies.push(await bodySha(body));
        if (attempt < 2) throw retryable();
        return 'ok2';
      },
      beforeRetry: async (_p, err, attempt) => {
        expect(err.code).toBe('NETWORK');
        before.push(attempt);
      },
    });
    expect(attempts).toEqual([0, 1, 2]);
    expect(before).toEqual([1, 2]);
    expect(new Set(bodies)).toEqual(new Set([sha(data.subarray(10_000, 20_000))]));
    expect(res.acks.get(2)).toBe('ok2');
  });

  it('a part that fails for good: waits for the other workers, aborts them, rejects, never succeeds', async () => {
    const { path, data } = await file(80_000);
    let active = 0;
    let sawAbort = false;
    const p = sendParts({
      path,
      size: data.length,
      parts: planParts(data.length, 10_000),
      concurrency: 3,
      retry: FAST,
      send: async (part, _body, signal) => {
        active++;
        try {
          if (part.number === 2) {
            await tick(2);
            throw fatal('bad part 2');
          }
          // Slow parts: only an abort ends them early.
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, 10_000);
            signal?.addEventListener('abort', () => {
              clearTimeout(t);
              sawAbort = true;
              reject(new BatchupError('INTERRUPTED', 'interrupted', { retryable: false }));
            });
          });
          return 'ok';
        } finally {
          active--;
        }
      },
    });
    await expect(p).rejects.toMatchObject({ code: 'HTTP', message: 'bad part 2' });
    expect(active).toBe(0);
    expect(sawAbort).toBe(true);
  });

  it('gives up after maxRetries and reports the error', async () => {
    const { path, data } = await file(20_000);
    let calls = 0;
    await expect(
      sendParts({
        path,
        size: data.length,
        parts: planParts(data.length, 10_000),
        concurrency: 2,
        retry: { ...FAST, maxRetries: 3 },
        send: async (part) => {
          if (part.number === 1) {
            calls++;
            throw retryable('flaky');
          }
          return 'ok';
        },
      }),
    ).rejects.toMatchObject({ code: 'NETWORK', message: 'flaky' });
    expect(calls).toBe(4);
  });

  it('respects the shared memory budget across files, and refuses a part larger than it', async () => {
    const a = await file(200_000);
    const b = await file(150_000);
    const partSize = 10_000;
    const memory = new MemoryBudget(3 * partSize);
    let inFlight = 0;
    let most = 0;
    const send = async () => {
      inFlight += partSize;
      most = Math.max(most, inFlight);
      await tick(2);
      inFlight -= partSize;
      return 'ok';
    };
    const [ra, rb] = await Promise.all([
      sendParts({ path: a.path, size: a.data.length, parts: planParts(a.data.length, partSize), concurrency: 4, memory, send, hash: true }),
      sendParts({ path: b.path, size: b.data.length, parts: planParts(b.data.length, partSize), concurrency: 4, memory, send, hash: true }),
    ]);
    expect(ra.sha256).toBe(sha(a.data));
    expect(rb.sha256).toBe(sha(b.data));
    expect(most).toBeLessThanOrEqual(3 * partSize);
    expect(memory.peak).toBeLessThanOrEqual(3 * partSize);
    expect(memory.inUse).toBe(0);

    let sent = 0;
    await expect(
      sendParts({ path: a.path, size: a.data.length, parts: planParts(a.data.length, 40_000), concurrency: 1, memory, send: async () => void sent++ }),
    ).rejects.toMatchObject({ code: 'USAGE' });
    expect(sent).toBe(0);
  });

  it('a resume sends only the missing parts yet hashes the whole file', async () => {
    const { path, data } = await file(64_000);
    const all = planParts(data.length, 8_000);
    const missing: Part[] = all.filter((p) => [2, 5, 8].includes(p.number));
    const sent: number[] = [];
    const res = await sendParts({ path, size: data.length, parts: missing, concurrency: 2, hash: true, send: async (p) => void sent.push(p.number) });
    expect(sent.sort()).toEqual([2, 5, 8]);
    expect(res.sha256).toBe(sha(data));
    // Nothing missing: nothing sent, still the hash.
    const none = await sendParts({ path, size: data.length, parts: [], concurrency: 2, hash: true, send: async () => 'x' });
    expect(none.sha256).toBe(sha(data));
  });

  it('a large file hashes on a thread: same digest, with retries, a resume and buffers reused', async () => {
    const size = THREAD_HASH_MIN_BYTES + 3 * 1024 * 1024 + 17;
    const { path, data } = await file(size);
    const partSize = 5 * 1024 * 1024;
    const all = planParts(size, partSize);
    const seen = new Map<number, string>();
    let failures = 0;
    const send = async (p: Part, body: PartBody, _s: AbortSignal | undefined, attempt: number) => {
      if (p.number % 4 === 0 && attempt === 0) {
        failures++;
        // A request that fails halfway: the retry reads the part again from its start.
        for await (const _piece of body.stream) break;
        throw new BatchupError('HTTP', 'try again', { retryable: true });
      }
      seen.set(p.number, await bodySha(body));
      await tick(1);
    };
    const memory = new MemoryBudget(3 * partSize); // few buffers: they are reused many times over
    const res = await sendParts({ path, size, parts: all, concurrency: 3, hash: true, memory, send, retry: FAST });
    expect(res.sha256).toBe(sha(data));
    expect(failures).toBeGreaterThan(0);
    // A part in flight holds one slice, not the whole part.
    expect(memory.peak).toBeLessThanOrEqual(3 * PART_SLICE);
    expect(memory.inUse).toBe(0);
    for (const p of all) expect(seen.get(p.number), `part ${p.number}`).toBe(sha(data.subarray(p.offset, p.offset + p.size)));
    const resumed = await sendParts({ path, size, parts: all.filter((p) => p.number % 5 === 0), concurrency: 2, hash: true, send: async () => 'x' });
    expect(resumed.sha256).toBe(sha(data));
  });

  it('a file whose size changed fails with VALIDATION before sending; an abort rejects INTERRUPTED', async () => {
    const { path, data } = await file(10_000);
    await expect(
      sendParts({ path, size: data.length + 1, parts: planParts(data.length + 1, 4_000), concurrency: 1, send: async () => 'x' }),
    ).rejects.toMatchObject({ code: 'VALIDATION' });
    const ctl = new AbortController();
    const p = sendParts({
      path,
      size: data.length,
      parts: planParts(data.length, 1_000),
      concurrency: 2,
      signal: ctl.signal,
      send: async (_p, _b, signal) => {
        await tick(5);
        if (signal?.aborted) throw new BatchupError('INTERRUPTED', 'interrupted', { retryable: false });
        return 'x';
      },
    });
    setTimeout(() => ctl.abort(), 8);
    await expect(p).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });
});

describe('runningHash', () => {
  it('on a thread: the same digest as inline, from shared and ordinary buffers, in order', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const cuts = [0, 1, 1000, 1024 * 1024, 2 * 1024 * 1024 + 7, data.length];
    for (const size of [10, THREAD_HASH_MIN_BYTES]) {
      const h = runningHash(size);
      try {
        const shared = sharedBuffer(1024 * 1024 + 7);
        for (let i = 0; i + 1 < cuts.length; i++) {
          const piece = data.subarray(cuts[i], cuts[i + 1]);
          if (i % 2 === 0) {
            await h.update(piece);
          } else {
            // One shared buffer reused for every piece: each update must be done before the next copy.
            for (let at = 0; at < piece.length; at += shared.length) {
              const n = piece.copy(shared, 0, at, Math.min(piece.length, at + shared.length));
              await h.update(shared.subarray(0, n));
            }
          }
        }
        expect(await h.digest(), `file size ${size}`).toBe(sha(data));
      } finally {
        h.close();
      }
    }
  });

  it('on a thread, from file ranges read by the thread; a range past the end fails the hash', async () => {
    const { path, data } = await file(3 * 1024 * 1024 + 11);
    const h = new ThreadHash();
    await h.updateFromFile(path, 0, 1000);
    await h.update(data.subarray(1000, 5000));
    await h.updateFromFile(path, 5000, data.length - 5000);
    expect(await h.digest()).toBe(sha(data));
    const bad = new ThreadHash();
    await expect(bad.updateFromFile(path, data.length - 10, 20)).rejects.toThrow(/ended early/);
    bad.close();
  });

  it('file ranges asked one after another without waiting are hashed in order, inline and on the thread; a failed range fails the digest', async () => {
    const { path, data } = await file(2 * 1024 * 1024 + 5);
    const cuts = [0, 7, 1024 * 1024 + 3, 1024 * 1024 + 4, data.length];
    for (const h of [runningHash(10), new ThreadHash()]) {
      const steps = cuts.slice(1).map((to, i) => h.updateFromFile(path, cuts[i]!, to - cuts[i]!));
      expect(await h.digest()).toBe(sha(data));
      await Promise.all(steps);
      h.close();
    }
    for (const h of [runningHash(10), new ThreadHash()]) {
      h.updateFromFile(path, data.length - 10, 20).catch(() => undefined);
      const after = h.updateFromFile(path, 0, 10);
      await expect(after).rejects.toThrow(/ended early/);
      await expect(h.digest()).rejects.toThrow(/ended early/);
      h.close();
    }
  });
});
