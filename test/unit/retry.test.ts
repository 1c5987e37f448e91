import { describe, expect, it } from 'vitest';
import { BatchupError } from '../../src/core/errors.js';
import { DEFAULT_RETRY, NO_ATTEMPTS, decideRetry, isRetryableStatus, parseRetryAfter, retryDelay, withRetry } from '../../src/core/retry.js';

describe('retryDelay', () => {
  it('grows exponentially within full jitter and is capped', () => {
    const max = () => 0.999999;
    expect(retryDelay(1, new Error('x'), undefined, DEFAULT_RETRY, max)).toBe(249);
    expect(retryDelay(3, new Error('x'), undefined, DEFAULT_RETRY, max)).toBe(999);
    expect(retryDelay(30, new Error('x'), undefined, DEFAULT_RETRY, max)).toBe(DEFAULT_RETRY.capMs - 1);
    expect(retryDelay(5, new Error('x'), undefined, DEFAULT_RETRY, () => 0)).toBe(0);
  });

  it('never waits less than Retry-After, from the argument or the error', () => {
    expect(retryDelay(1, new Error('x'), 3, DEFAULT_RETRY, () => 0)).toBe(3000);
    const err = new BatchupError('HTTP_RETRYABLE', '429', { status: 429, retryAfter: 2 });
    expect(retryDelay(1, err, undefined, DEFAULT_RETRY, () => 0)).toBe(2000);
    // Retry-After is capped so a hostile header cannot park a run for hours.
    expect(retryDelay(1, err, 999_999, DEFAULT_RETRY, () => 0)).toBe(DEFAULT_RETRY.maxRetryAfterMs);
  });
});

describe('retryability', () => {
  it('retries 408, 409, 429 and 5xx only', () => {
    expect([408, 409, 429, 500, 502, 503].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 413, 422].some(isRetryableStatus)).toBe(false);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('5')).toBe(5);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).toBeGreaterThan(8);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('withRetry stops at a non-retryable error and retries retryable ones', async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new BatchupError('HTTP', 'bad request', { status: 400 });
      }),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);

    calls = 0;
    const seen: number[] = [];
    const value = await withRetry(
      async () => {
        if (++calls < 3) throw new BatchupError('NETWORK', 'reset');
        return 'ok';
      },
      { policy: { baseMs: 1 }, onRetry: ({ attempt }) => seen.push(attempt) },
    );
    expect(value).toBe('ok');
    expect(seen).toEqual([1, 2]);
  });

  it('gives up after maxRetries', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new BatchupError('HTTP_RETRYABLE', '503', { status: 503 });
        },
        { policy: { maxRetries: 2, baseMs: 1 } },
      ),
    ).rejects.toThrow('503');
    expect(calls).toBe(3);
  });
});

describe('decideRetry: the one decision for requests, parts and polls', () => {
  const throttle = new BatchupError('HTTP_RETRYABLE', '429', { status: 429, retryAfter: 1 });
  const failure = new BatchupError('HTTP_RETRYABLE', '500', { status: 500 });

  it('throttling answers wait as told and do not spend maxRetries; failures do', () => {
    const policy = { ...DEFAULT_RETRY, maxRetries: 2, maxThrottles: 5 };
    let a = NO_ATTEMPTS;
    for (let i = 0; i < 5; i++) {
      const d = decideRetry(a, throttle, policy, () => 0);
      expect(d.retry && d.delayMs).toBe(1000);
      if (d.retry) a = d.attempts;
    }
    expect(decideRetry(a, throttle, policy).retry).toBe(false); // the 6th throttle in a row gives up
    a = { failures: 0, throttles: 5 };
    let d = decideRetry(a, failure, policy);
    expect(d.retry).toBe(true);
    d = decideRetry(d.retry ? d.attempts : a, failure, policy);
    expect(d.retry).toBe(true);
    expect(decideRetry(d.retry ? d.attempts : a, failure, policy).retry).toBe(false);
  });

  it('a 503 without Retry-After is a failure; a huge Retry-After gives up; 4xx never retry', () => {
    const policy = { ...DEFAULT_RETRY, maxRetries: 0 };
    expect(decideRetry(NO_ATTEMPTS, new BatchupError('HTTP_RETRYABLE', '503', { status: 503 }), policy).retry).toBe(false);
    expect(decideRetry(NO_ATTEMPTS, new BatchupError('HTTP_RETRYABLE', '503', { status: 503, retryAfter: 2 }), policy).retry).toBe(true);
    expect(decideRetry(NO_ATTEMPTS, new BatchupError('HTTP_RETRYABLE', '429', { status: 429, retryAfter: 99_999 })).retry).toBe(false);
    expect(decideRetry(NO_ATTEMPTS, new BatchupError('HTTP', '400', { status: 400 })).retry).toBe(false);
  });
});
