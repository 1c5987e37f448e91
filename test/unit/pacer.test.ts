/**
 * The per-origin pacer (core/pacer.ts), on a fake clock: AIMD in flight, Retry-After pauses that
 * hold new paced requests but not those in flight or unpaced ones, and RateLimit windows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OriginPacer, parseRateLimitPolicies, type Ticket } from '../../src/core/pacer.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Acquire and report whether it resolved yet. */
function take(p: OriginPacer, paced = true) {
  const r: { ticket?: Ticket } = {};
  void p.acquire(paced).then((t) => (r.ticket = t));
  return r;
}
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('OriginPacer', () => {
  it('AIMD: a 429 halves the requests in flight (once per burst), successes add 1/limit back', async () => {
    const p = new OriginPacer({ maxInFlight: 8 });
    const ts = await Promise.all(Array.from({ length: 8 }, () => p.acquire(false)));
    for (const t of ts.slice(0, 3)) p.release(t, { status: 429 }); // one burst: halved once
    expect(p.inFlightLimit).toBe(4);
    vi.advanceTimersByTime(600);
    p.release(ts[3]!, { status: 503 });
    expect(p.inFlightLimit).toBe(2);
    const waiting = take(p, false); // 4 in flight, limit 2
    await flush();
    expect(waiting.ticket).toBeUndefined();
    for (const t of ts.slice(4)) p.release(t, { status: 200 });
    await flush();
    expect(waiting.ticket).toBeDefined();
    for (let i = 0; i < 200; i++) p.release(await p.acquire(false), { status: 200 });
    expect(p.inFlightLimit).toBe(8);
  });

  it('Retry-After pauses new paced requests of the origin; requests in flight finish, unpaced ones go on', async () => {
    const p = new OriginPacer({ maxInFlight: 8 });
    const a = await p.acquire(true);
    const b = await p.acquire(true);
    p.release(a, { status: 429, headers: { 'retry-after': '2' } });
    const c = take(p, true);
    const d = take(p, false);
    await flush();
    expect(c.ticket).toBeUndefined();
    expect(d.ticket).toBeDefined(); // a presigned upload is not held by the API's throttle
    p.release(b, { status: 200 }); // b was in flight and simply finishes
    await vi.advanceTimersByTimeAsync(1_900);
    expect(c.ticket).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(c.ticket).toBeDefined();
  });

  it('RateLimit windows: never more than q paced starts in any w seconds, whatever the server announces', async () => {
    const p = new OriginPacer({ maxInFlight: 16, learnFirst: true });
    const first = await p.acquire(true);
    const early = take(p, true);
    await flush();
    expect(early.ticket).toBeUndefined(); // learn the limits from the first answer before a burst
    p.release(first, { status: 200, headers: { 'ratelimit-limit': '3, 10;w=60, 3;w=1', 'ratelimit-remaining': '2', 'ratelimit-reset': '1' } });
    await flush();
    expect(early.ticket).toBeDefined();
    const starts: number[] = [first.startedAt, early.ticket!.startedAt];
    p.release(early.ticket!, { status: 200 });
    for (let i = 0; i < 8; i++) {
      const t = p.acquire(true);
      await vi.advanceTimersByTimeAsync(2_000);
      const ticket = await t;
      starts.push(ticket.startedAt);
      p.release(ticket, { status: 200 });
    }
    for (const s of starts) {
      expect(starts.filter((x) => x >= s && x < s + 1000).length).toBeLessThanOrEqual(3);
      expect(starts.filter((x) => x >= s && x < s + 60_000).length).toBeLessThanOrEqual(10);
    }
    // The 11th start has to wait for the 60-second window.
    const t11 = take(p, true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t11.ticket).toBeUndefined();
    await vi.advanceTimersByTimeAsync(40_000);
    expect(t11.ticket).toBeDefined();
  });

  it("trusts the server's Remaining (other clients share the key), less what was started since", async () => {
    const p = new OriginPacer({ maxInFlight: 16 });
    const a = await p.acquire(true);
    const b = await p.acquire(true); // started after a was admitted
    p.release(a, { status: 200, headers: { 'ratelimit-limit': '100, 100;w=60', 'ratelimit-remaining': '1', 'ratelimit-reset': '5' } });
    p.release(b, { status: 200 });
    const c = take(p, true);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(c.ticket).toBeUndefined(); // b used the one left
    await vi.advanceTimersByTimeAsync(1_100);
    expect(c.ticket).toBeDefined();
  });

  it('a 429 without Retry-After waits for RateLimit-Reset', async () => {
    const p = new OriginPacer({ maxInFlight: 4 });
    const a = await p.acquire(true);
    p.release(a, { status: 429, headers: { 'ratelimit-limit': '4, 4;w=1', 'ratelimit-remaining': '-1', 'ratelimit-reset': '3' } });
    const b = take(p, true);
    await vi.advanceTimersByTimeAsync(2_900);
    expect(b.ticket).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    expect(b.ticket).toBeDefined();
  });

  it('parses the policies of RateLimit-Limit', () => {
    expect(parseRateLimitPolicies('4, 120;w=60, 4;w=1')).toEqual([
      { quota: 120, windowMs: 60_000 },
      { quota: 4, windowMs: 1_000 },
    ]);
    expect(parseRateLimitPolicies('10')).toEqual([]);
    expect(parseRateLimitPolicies(undefined)).toEqual([]);
  });
});
