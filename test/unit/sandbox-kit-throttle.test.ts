/** Throttle accounting: requests started while a Retry-After runs, on an injected clock. */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { LoopLag, ThrottleLedger, retryAfterMs } from '../../src/sandbox/kit/throttle.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { auth } from './sandbox-helpers.js';

describe('throttle accounting', () => {
  function ledger() {
    let t = 0;
    const l = new ThrottleLedger(() => t);
    return { l, at: (ms: number) => (t = ms) };
  }

  it('counts API requests that start inside [answer + grace, answer + Retry-After)', () => {
    const { l, at } = ledger();
    at(1000);
    l.answered(429, { 'retry-after': '1' }); // window [1300, 2000)
    for (const t of [1000, 1299]) l.requestArrived(t); // in flight or within the grace
    expect(l.snapshot()).toEqual({ retryAfterGiven: 1, startedDuringRetryAfter: 0 });
    for (const t of [1300, 1999]) l.requestArrived(t);
    l.requestArrived(2000);
    expect(l.snapshot()).toEqual({ retryAfterGiven: 1, startedDuringRetryAfter: 2 });
  });

  it('grace is a third of a short Retry-After; only 429/503 with Retry-After open a window', () => {
    const { l, at } = ledger();
    at(0);
    l.answered(503, { 'retry-after': '0.6' }); // grace 200 ms: [200, 600)
    l.requestArrived(150);
    l.requestArrived(250);
    l.answered(429, {}); // no Retry-After: claid's rate limit refusals
    l.answered(500, { 'retry-after': '5' });
    l.answered(429, { 'retry-after': '0' }); // given, but an empty window
    l.requestArrived(700);
    expect(l.snapshot()).toEqual({ retryAfterGiven: 2, startedDuringRetryAfter: 1 });
  });

  it("the grace grows by how late the sandbox's own event loop runs (a busy machine sees requests late)", () => {
    const { l, at } = ledger();
    let lag = 0;
    l.lagMs = () => lag;
    at(1000);
    l.answered(429, { 'retry-after': '1' }); // window [1300, 2000)
    lag = 400;
    l.requestArrived(1650); // seen 400 ms late: may have been sent within the grace
    expect(l.snapshot().startedDuringRetryAfter).toBe(0);
    l.requestArrived(1750);
    expect(l.snapshot().startedDuringRetryAfter).toBe(1);
  });

  it('LoopLag measures a blocked event loop, and stops with its signal', async () => {
    const stop = new AbortController();
    const lag = new LoopLag(stop.signal, 20);
    await new Promise((ok) => setTimeout(ok, 50));
    const until = performance.now() + 250;
    while (performance.now() < until); // the loop blocked for 250 ms
    await new Promise((ok) => setTimeout(ok, 30));
    expect(lag.ms).toBeGreaterThan(100);
    stop.abort();
  });

  it('a request inside overlapping windows counts once', () => {
    const { l, at } = ledger();
    at(0);
    l.answered(429, { 'retry-after': '2' });
    at(100);
    l.answered(429, { 'retry-after': '2' });
    l.requestArrived(1000);
    expect(l.snapshot().startedDuringRetryAfter).toBe(1);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(1.5, 0)).toBe(1500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(retryAfterMs(undefined, 0)).toBeUndefined();
  });

  it('the sandbox scores a client that hammers through a Retry-After, and not one that waits', async () => {
    let t = 1_000_000;
    const sb = await startSandbox({ clock: () => t, faults: { rate: 1, kinds: ['429'], retryAfterSec: 2 } });
    try {
      const status = async (path = '/api/vdr/batch-upload/status/x') => {
        const r = await request(`${sb.url}${path}`, { headers: auth('t') });
        await r.body.dump();
        return r.statusCode;
      };
      expect(await status()).toBe(429); // window [t0 + 300, t0 + 2000)
      t += 100;
      expect(await status()).toBe(429); // within the grace (and opens its own window)
      t += 1000;
      expect(await status()).toBe(429); // during the Retry-After: counted
      expect(await status('/_sandbox/health')).toBe(200); // not an API request
      expect(sb.stats().throttle).toEqual({ retryAfterGiven: 3, startedDuringRetryAfter: 1 });
      t += 2000; // a client that waits the whole Retry-After
      expect(await status()).toBe(429);
      expect(sb.stats().throttle).toEqual({ retryAfterGiven: 4, startedDuringRetryAfter: 1 });
    } finally {
      await sb.close();
    }
  });
});
