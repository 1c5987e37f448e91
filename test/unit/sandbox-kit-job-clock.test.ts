/** The kit's job clock: time-driven job states, on plain numbers (no timers). */
import { describe, expect, it } from 'vitest';
import { jobAt, stepsDone } from '../../src/sandbox/kit/job-clock.js';

describe('job clock', () => {
  const blurb = [
    { state: 'PENDING', ms: 100 },
    { state: 'COLLECTING_ASSETS', ms: 200 },
    { state: 'RENDERING', ms: 700 },
  ] as const;

  it('walks the phases over time, with progress 0–100 and when the state changes next', () => {
    const at = (now: number) => jobAt(1000, blurb, 'COMPLETED', now);
    expect(at(500)).toMatchObject({ state: 'PENDING', phase: 0, progress: 0, done: false, nextChangeAt: 1100, finishAt: 2000 });
    expect(at(1000)).toMatchObject({ state: 'PENDING', progress: 0, phaseFraction: 0 });
    expect(at(1099)).toMatchObject({ state: 'PENDING', nextChangeAt: 1100 });
    expect(at(1100)).toMatchObject({ state: 'COLLECTING_ASSETS', phase: 1, progress: 10, phaseFraction: 0, nextChangeAt: 1300 });
    expect(at(1650)).toMatchObject({ state: 'RENDERING', phase: 2, progress: 65, phaseFraction: 0.5, nextChangeAt: 2000 });
    expect(at(1999).progress).toBe(99);
    expect(at(2000)).toEqual({ state: 'COMPLETED', phase: 3, progress: 100, phaseFraction: 1, done: true, finishAt: 2000 });
    expect(at(99_999).state).toBe('COMPLETED');
  });

  it('passes through zero-length phases at once; a job of no length is final from the start', () => {
    const claid = [
      { state: 'ACCEPTED', ms: 0 },
      { state: 'WAITING', ms: 50 },
      { state: 'PROCESSING', ms: 50 },
    ];
    expect(jobAt(0, claid, 'DONE', 0).state).toBe('WAITING');
    expect(jobAt(0, claid, 'DONE', 60).state).toBe('PROCESSING');
    expect(
      jobAt(
        0,
        [
          { state: 'PENDING', ms: 0 },
          { state: 'RUNNING', ms: 0 },
        ],
        'COMPLETE',
        0,
      ),
    ).toMatchObject({ state: 'COMPLETE', done: true });
  });

  it('counts items worked through one after another (all at once at 0 ms each)', () => {
    expect(stepsDone(1000, 5, 10, 999)).toBe(0);
    expect(stepsDone(1000, 5, 10, 1004)).toBe(0);
    expect(stepsDone(1000, 5, 10, 1005)).toBe(1);
    expect(stepsDone(1000, 5, 10, 1049)).toBe(9);
    expect(stepsDone(1000, 5, 10, 5000)).toBe(10);
    expect(stepsDone(1000, 0, 10, 1000)).toBe(10);
    expect(stepsDone(1000, 5, 0, 5000)).toBe(0);
  });
});
