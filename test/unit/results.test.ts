import { describe, expect, it } from 'vitest';
import { encodeResults } from '../../src/core/journal-codec.js';
import { emptyState } from '../../src/core/journal.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { RunResults } from '../../src/core/results.js';

const entry = (source: string, status: ManifestEntry['status'] = 'uploaded'): ManifestEntry => ({
  source,
  status,
  provider: 'bach',
  url: `https://cdn/${source}`,
});

describe('run results', () => {
  it('gives every entry in scan order (rejections before the inputs, a spec’s parts after theirs), skipped ones as skipped, with counts kept', () => {
    const state = emptyState();
    state.fold({
      t: 'res',
      ...encodeResults([
        { source: '/a', entries: [entry('/a')] },
        { source: '/c', entries: [entry('/c')] },
      ]),
    });
    const r = new RunResults(state);
    r.set(3, [entry('/d', 'failed')]);
    r.skipped(0, '/a', 1);
    r.set(-1, [entry('/missing', 'rejected')]);
    r.recorded(2, '/c', state.entries('/c')!);
    r.set(2.5, [entry('/c#1', 'rejected')]);
    r.skipped(7, '/a', 1, 99);
    expect([...r.all()].map((e) => [e.source, e.status])).toEqual([
      ['/missing', 'rejected'],
      ['/a', 'skipped'],
      ['/c', 'uploaded'],
      ['/c#1', 'rejected'],
      ['/d', 'failed'],
      ['/a', 'skipped'],
    ]);
    expect(r.get(7)![0]!.mtimeMs).toBe(99);
    expect(r.counts).toEqual({ uploaded: 1, skipped: 2, rejected: 2, failed: 1 });
    // Replacing an outcome moves its count.
    r.set(3, [entry('/d')]);
    expect(r.counts).toEqual({ uploaded: 2, skipped: 2, rejected: 2, failed: 0 });
    expect(r.has(5)).toBe(false);
    expect(r.orders().sort((a, b) => a - b)).toEqual([-1, 0, 2, 2.5, 3, 7]);
  });
});
