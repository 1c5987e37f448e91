/** Polling: timed for the predicted finish, but the count on screen never freezes for long. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_PROGRESS_GAP_MS, pollUntil } from '../../src/core/poll.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('pollUntil', () => {
  it('a long job with steady progress is asked at least once a second while its count moves', async () => {
    // 200 units at 10 per second: the ETA after the first sightings is ~20 s away.
    const asked: number[] = [];
    const job = pollUntil({
      fetch: async () => {
        asked.push(Date.now());
        return { done: Math.min(200, Math.floor(Date.now() / 100)), total: 200 };
      },
      done: (s) => s.done >= s.total,
      progress: (s) => s,
      progressKey: (s) => String(s.done),
      initialMs: 500,
      maxMs: 5000,
      timeoutMs: 120_000,
    });
    await vi.advanceTimersByTimeAsync(25_000);
    const final = await job;
    expect(final.done).toBe(200);
    const gaps = asked.slice(1).map((t, i) => t - asked[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MAX_PROGRESS_GAP_MS + 50);
    // …without flooding: no more than a couple of requests a second.
    expect(asked.length).toBeLessThan(20 * 2 + 5);
  });

  it('a job that shows no progress backs off up to the maximum', async () => {
    const asked: number[] = [];
    const job = pollUntil({
      fetch: async () => {
        asked.push(Date.now());
        return { state: Date.now() >= 30_000 ? 'done' : 'waiting' };
      },
      done: (s) => s.state === 'done',
      initialMs: 500,
      maxMs: 5000,
      timeoutMs: 120_000,
    });
    await vi.advanceTimersByTimeAsync(40_000);
    await job;
    const gaps = asked.slice(1).map((t, i) => t - asked[i]!);
    expect(gaps[0]).toBe(500);
    expect(Math.max(...gaps)).toBe(5000);
  });
});
