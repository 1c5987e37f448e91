import { describe, expect, it } from 'vitest';
import { BatchupError } from '../../src/core/errors.js';
import type { RunSummary } from '../../src/core/events.js';
import { EXIT, exitCodeForError, exitCodeForSummary } from '../../src/cli/exit-codes.js';

const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  uploaded: 0,
  skipped: 0,
  rejected: 0,
  failed: 0,
  bytes: 0,
  durationMs: 10,
  interrupted: false,
  dryRun: false,
  ...over,
});

describe('exitCodeForSummary', () => {
  it('0 when everything uploaded or skipped', () => {
    expect(exitCodeForSummary(summary({ uploaded: 5 }))).toBe(0);
    expect(exitCodeForSummary(summary({ uploaded: 2, skipped: 3 }))).toBe(0);
    expect(exitCodeForSummary(summary({ skipped: 3 }))).toBe(0);
  });
  it('3 when some went through and some were rejected or failed', () => {
    expect(exitCodeForSummary(summary({ uploaded: 5, rejected: 1 }))).toBe(3);
    expect(exitCodeForSummary(summary({ uploaded: 5, failed: 1 }))).toBe(3);
    expect(exitCodeForSummary(summary({ skipped: 5, failed: 1 }))).toBe(3);
  });
  it('4 when nothing went through, or there was nothing', () => {
    expect(exitCodeForSummary(summary({ rejected: 3 }))).toBe(4);
    expect(exitCodeForSummary(summary({ failed: 3 }))).toBe(4);
    expect(exitCodeForSummary(summary())).toBe(4);
  });
  it('5 when nothing went through because the API refused the credentials', () => {
    expect(exitCodeForSummary(summary({ failed: 3 }), { authFailures: 1 })).toBe(5);
    // Auth trouble in one batch while others uploaded is a partial failure.
    expect(exitCodeForSummary(summary({ uploaded: 1, failed: 3 }), { authFailures: 1 })).toBe(3);
  });
  it('130 when interrupted, whatever the counts', () => {
    expect(exitCodeForSummary(summary({ uploaded: 5, interrupted: true }))).toBe(130);
  });
  it('dry run: judged by what the plan holds', () => {
    expect(exitCodeForSummary(summary({ dryRun: true }), { plannedFiles: 4 })).toBe(0);
    expect(exitCodeForSummary(summary({ dryRun: true, rejected: 1 }), { plannedFiles: 4 })).toBe(3);
    expect(exitCodeForSummary(summary({ dryRun: true, rejected: 2 }), { plannedFiles: 0 })).toBe(4);
  });
});

describe('exitCodeForError', () => {
  it.each([
    ['USAGE', 2],
    ['CONFIG', 2],
    ['AUTH', 5],
    ['VALIDATION', 4],
    ['NETWORK', 6],
    ['HTTP', 6],
    ['HTTP_RETRYABLE', 6],
    ['PROTOCOL', 6],
    ['REMOTE', 6],
    ['NOT_FOUND', 6],
    ['INTERRUPTED', 130],
    ['INTERNAL', 1],
  ] as const)('%s → %i', (code, exit) => {
    expect(exitCodeForError(new BatchupError(code, 'x'))).toBe(exit);
  });
  it('plain errors are internal; network errnos are remote', () => {
    expect(exitCodeForError(new TypeError('boom'))).toBe(1);
    expect(exitCodeForError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(6);
  });
  it('the codes are the numbers of the README table', () => {
    expect(EXIT).toEqual({ OK: 0, INTERNAL: 1, USAGE: 2, PARTIAL: 3, NOTHING_UPLOADED: 4, AUTH: 5, REMOTE: 6, INTERRUPTED: 130 });
  });
});
