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
    expect(exitCodeForSummary(summary({ uploaded: 5 }))).toBe(EXIT.OK);
    expect(exitCodeForSummary(summary({ uploaded: 2, skipped: 3 }))).toBe(EXIT.OK);
    expect(exitCodeForSummary(summary({ skipped: 3 }))).toBe(EXIT.OK);
  });
  it('3 when some went through and some were rejected or failed', () => {
    expect(exitCodeForSummary(summary({ uploaded: 5, rejected: 1 }))).toBe(EXIT.PARTIAL);
    expect(exitCodeForSummary(summary({ uploaded: 5, failed: 1 }))).toBe(EXIT.PARTIAL);
    expect(exitCodeForSummary(summary({ skipped: 5, failed: 1 }))).toBe(EXIT.PARTIAL);
  });
  it('4 when nothing went through, or there was nothing', () => {
    expect(exitCodeForSummary(summary({ rejected: 3 }))).toBe(EXIT.NOTHING_UPLOADED);
    expect(exitCodeForSummary(summary({ failed: 3 }))).toBe(EXIT.NOTHING_UPLOADED);
    expect(exitCodeForSummary(summary())).toBe(EXIT.NOTHING_UPLOADED);
  });
  it('5 when nothing went through because the API refused the credentials', () => {
    expect(exitCodeForSummary(summary({ failed: 3 }), { authFailures: 1 })).toBe(EXIT.AUTH);
    // Auth trouble in one batch while others uploaded is a partial failure.
    expect(exitCodeForSummary(summary({ uploaded: 1, failed: 3 }), { authFailures: 1 })).toBe(EXIT.PARTIAL);
  });
  it('130 when interrupted, whatever the counts', () => {
    expect(exitCodeForSummary(summary({ uploaded: 5, interrupted: true }))).toBe(EXIT.INTERRUPTED);
  });
  it('dry run: judged by what the plan holds', () => {
    expect(exitCodeForSummary(summary({ dryRun: true }), { plannedFiles: 4 })).toBe(EXIT.OK);
    expect(exitCodeForSummary(summary({ dryRun: true, rejected: 1 }), { plannedFiles: 4 })).toBe(EXIT.PARTIAL);
    expect(exitCodeForSummary(summary({ dryRun: true, rejected: 2 }), { plannedFiles: 0 })).toBe(EXIT.NOTHING_UPLOADED);
  });
});

describe('exitCodeForError', () => {
  it.each([
    ['USAGE', EXIT.USAGE],
    ['CONFIG', EXIT.USAGE],
    ['AUTH', EXIT.AUTH],
    ['VALIDATION', EXIT.NOTHING_UPLOADED],
    ['NETWORK', EXIT.REMOTE],
    ['HTTP', EXIT.REMOTE],
    ['HTTP_RETRYABLE', EXIT.REMOTE],
    ['PROTOCOL', EXIT.REMOTE],
    ['REMOTE', EXIT.REMOTE],
    ['NOT_FOUND', EXIT.REMOTE],
    ['INTERRUPTED', EXIT.INTERRUPTED],
    ['INTERNAL', EXIT.INTERNAL],
  ] as const)('%s → %i', (code, exit) => {
    expect(exitCodeForError(new BatchupError(code, 'x'))).toBe(exit);
  });
  it('plain errors are internal; network errnos are remote', () => {
    expect(exitCodeForError(new TypeError('boom'))).toBe(EXIT.INTERNAL);
    expect(exitCodeForError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(EXIT.REMOTE);
  });
  it('every code is distinct', () => {
    const values = Object.values(EXIT);
    expect(new Set(values).size).toBe(values.length);
  });
});
