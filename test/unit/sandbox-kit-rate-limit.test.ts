/** The kit's rate limiter with `RateLimit-*` headers (claid.md), on an injected clock. */
import { describe, expect, it } from 'vitest';
import { RateLimiter, formatRatePolicies, parseRatePolicies } from '../../src/sandbox/kit/rate-limit.js';

describe('rate limiter', () => {
  function limiter(text: string) {
    let t = 10_000;
    const rl = new RateLimiter(parseRatePolicies(text), () => t);
    return { rl, advance: (ms: number) => (t += ms) };
  }

  it('parses and formats policies; refuses anything else', () => {
    expect(parseRatePolicies('120;w=60, 4;w=1')).toEqual([
      { limit: 120, windowSec: 60 },
      { limit: 4, windowSec: 1 },
    ]);
    expect(formatRatePolicies(parseRatePolicies('120; w=60,4;w=1'))).toBe('120;w=60, 4;w=1');
    for (const bad of ['', '120', '120;w=0', '0;w=60', '1.5;w=1', '120;x=60']) expect(() => parseRatePolicies(bad), bad).toThrow(RangeError);
  });

  it('announces the tightest window first, then every policy; remaining and reset of that window', () => {
    const { rl, advance } = limiter('120;w=60, 4;w=1');
    const first = rl.take();
    expect(first).toEqual({
      admitted: true,
      headers: { 'ratelimit-limit': '4, 120;w=60, 4;w=1', 'ratelimit-remaining': '3', 'ratelimit-reset': '1' },
    });
    advance(400);
    expect(rl.take().headers['ratelimit-remaining']).toBe('2');
    rl.take();
    expect(rl.take().headers).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '1' });
    // The fifth within the second: refused (429 without Retry-After), remaining -1, and it does not count.
    const refused = rl.take();
    expect(refused).toEqual({
      admitted: false,
      headers: { 'ratelimit-limit': '4, 120;w=60, 4;w=1', 'ratelimit-remaining': '-1', 'ratelimit-reset': '1' },
    });
    expect(refused.headers['retry-after']).toBeUndefined();
    // The 1 s window closed 1000 ms after it opened; the next request opens a new one.
    advance(600);
    const again = rl.take();
    expect(again.headers).toMatchObject({ 'ratelimit-limit': '4, 120;w=60, 4;w=1', 'ratelimit-remaining': '3', 'ratelimit-reset': '1' });
  });

  it('the minute window becomes the tightest once it has fewer left; reset rounds up', () => {
    const { rl, advance } = limiter('5;w=60, 4;w=1');
    for (let i = 0; i < 4; i++) rl.take(); // 5;w=60 has 1 left, 4;w=1 has 0 left
    advance(1000);
    const r = rl.take(); // opens a new 1 s window (3 left); the minute window has 0 left
    expect(r.headers).toEqual({ 'ratelimit-limit': '5, 5;w=60, 4;w=1', 'ratelimit-remaining': '0', 'ratelimit-reset': '59' });
    advance(1500);
    const refused = rl.take();
    expect(refused.admitted).toBe(false);
    expect(refused.headers).toEqual({ 'ratelimit-limit': '5, 5;w=60, 4;w=1', 'ratelimit-remaining': '-1', 'ratelimit-reset': '58' });
    advance(100);
    expect(rl.take().headers['ratelimit-reset']).toBe('58'); // 57.4 s left → 58
  });

  it('a window opens with the first request after the previous one closed, not on a grid', () => {
    const { rl, advance } = limiter('2;w=10');
    rl.take();
    advance(9_000);
    expect(rl.take().headers).toMatchObject({ 'ratelimit-remaining': '0', 'ratelimit-reset': '1' });
    advance(25_000); // idle well past the end: nothing opens until the next request
    expect(rl.take().headers).toMatchObject({ 'ratelimit-remaining': '1', 'ratelimit-reset': '10' });
  });

  it('on a tie of requests left, announces the window that resets last', () => {
    const { rl } = limiter('2;w=1, 2;w=10');
    expect(rl.take().headers).toEqual({ 'ratelimit-limit': '2, 2;w=1, 2;w=10', 'ratelimit-remaining': '1', 'ratelimit-reset': '10' });
  });

  it('keeps windows per key', () => {
    const { rl } = limiter('1;w=60');
    expect(rl.take('key-a').admitted).toBe(true);
    expect(rl.take('key-a').admitted).toBe(false);
    expect(rl.take('key-b').admitted).toBe(true);
  });
});
