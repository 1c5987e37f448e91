/** --bwlimit's bucket: the rate it lets through, shared by concurrent takers; rates as typed. */
import { describe, expect, it } from 'vitest';
import { Bandwidth, parseRate, throttled } from '../../src/core/bandwidth.js';

const drain = async (it: AsyncIterable<Uint8Array>) => {
  let n = 0;
  for await (const c of it) n += c.length;
  return n;
};

describe('parseRate', () => {
  it('reads binary units whatever the spelling, with or without /s; a plain number is bytes per second', () => {
    expect(parseRate('10M')).toBe(10 * 1024 * 1024);
    expect(parseRate('10MB/s')).toBe(10 * 1024 * 1024);
    expect(parseRate('1.5MiB/s')).toBe(1.5 * 1024 * 1024);
    expect(parseRate('512K')).toBe(512 * 1024);
    expect(parseRate('2000000')).toBe(2_000_000);
    for (const bad of ['fast', '', '512', '1/s', '-1M']) expect(() => parseRate(bad), bad).toThrow(/--bwlimit/);
  });
});

describe('Bandwidth', () => {
  it('lets a body through at the rate (never faster), in slices', async () => {
    const bw = new Bandwidth(512 * 1024);
    const body = Buffer.alloc(256 * 1024, 1);
    const t0 = performance.now();
    const slices: number[] = [];
    for await (const c of throttled(body, bw)) slices.push(c.length);
    const seconds = (performance.now() - t0) / 1000;
    expect(slices.reduce((a, b) => a + b, 0)).toBe(body.length);
    expect(Math.max(...slices)).toBeLessThanOrEqual(bw.slice);
    // 256 KiB at 512 KiB/s: 0.5 s less the 50 ms burst allowance.
    expect(seconds).toBeGreaterThanOrEqual(0.44);
  });

  it('is one budget: two bodies at once take as long as both after each other', async () => {
    const bw = new Bandwidth(1024 * 1024);
    const t0 = performance.now();
    const sizes = await Promise.all([drain(throttled(Buffer.alloc(200 * 1024), bw)), drain(throttled(Buffer.from('x'.repeat(200 * 1024)), bw))]);
    expect(sizes).toEqual([200 * 1024, 200 * 1024]);
    expect((performance.now() - t0) / 1000).toBeGreaterThanOrEqual(0.34);
  });

  it('stops waiting when the run is interrupted', async () => {
    const bw = new Bandwidth(1024);
    const ac = new AbortController();
    const pending = drain(throttled(Buffer.alloc(64 * 1024), bw, ac.signal));
    setImmediate(() => ac.abort());
    await expect(pending).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });
});
