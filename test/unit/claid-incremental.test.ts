/**
 * Refreshing outputs that expire (core/incremental.ts): claid's temporary outputs live one day,
 * so the default 3-day refresh window would edit every input again on every run. Without
 * --refresh-before the window is capped at half the URL's lifetime.
 */
import { describe, expect, it } from 'vitest';
import { decide, refreshWindow } from '../../src/core/incremental.js';
import { emptyState } from '../../src/core/journal.js';
import { encodeResults } from '../../src/core/journal-codec.js';
import type { ManifestEntry } from '../../src/core/manifest.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-01-01T00:00:00Z');

const url = (lifeMs: number | undefined): ManifestEntry => ({
  source: 'https://x/a.png',
  status: 'uploaded',
  provider: 'claid',
  url: 'https://tmp/a.jpeg',
  finishedAt: new Date(T0).toISOString(),
  ...(lifeMs !== undefined ? { expiresAt: new Date(T0 + lifeMs).toISOString() } : {}),
});

function stateWith(e: ManifestEntry) {
  const s = emptyState();
  s.fold({ t: 'res', ...encodeResults([{ source: e.source, entries: [e] }]) });
  return s;
}

const cand = { source: 'https://x/a.png', kind: 'url' as const, url: 'https://x/a.png', order: 0 };

describe('refresh window', () => {
  it('is 3 days for long-lived URLs and half the lifetime of short ones', () => {
    expect(refreshWindow([url(30 * DAY)])).toBe(3 * DAY);
    expect(refreshWindow([url(DAY)])).toBe(12 * HOUR);
    expect(refreshWindow([url(undefined)])).toBe(3 * DAY);
    expect(refreshWindow([url(30 * DAY), url(DAY)])).toBe(12 * HOUR);
  });

  it('a one-day output is skipped in its first half-day and edited again in its second', async () => {
    const s = stateWith(url(DAY));
    expect((await decide(cand, s, { force: false, now: T0 + 11 * HOUR })).skip).toBe(true);
    expect(await decide(cand, s, { force: false, now: T0 + 13 * HOUR })).toEqual({ skip: false, reason: 'expiring' });
  });

  it('--refresh-before still decides when given', async () => {
    const s = stateWith(url(DAY));
    expect((await decide(cand, s, { force: false, refreshBeforeMs: HOUR, now: T0 + 20 * HOUR })).skip).toBe(true);
    expect(await decide(cand, s, { force: false, refreshBeforeMs: 3 * DAY, now: T0 + HOUR })).toEqual({ skip: false, reason: 'expiring' });
  });
});
