/** Merging shard manifests: one entry per source, strict about what must agree. */
import { describe, expect, it } from 'vitest';
import { manifestUrls, mergeManifests, type LoadedManifest } from '../../src/core/manifest-tools.js';
import type { Manifest, ManifestEntry } from '../../src/core/manifest.js';

const e = (source: string, status: ManifestEntry['status'], more: Partial<ManifestEntry> = {}): ManifestEntry => ({
  source,
  status,
  provider: 'bach',
  ...more,
});
const m = (path: string, entries: ManifestEntry[], more: Partial<Manifest> = {}): LoadedManifest => ({
  path,
  manifest: {
    version: 1,
    tool: 'batchup',
    provider: 'bach',
    endpoint: 'https://api/vdr',
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:10.000Z',
    summary: { uploaded: 0, skipped: 0, rejected: 0, failed: 0, bytes: 100, durationMs: 1000, interrupted: false, dryRun: false },
    entries,
    ...more,
  },
});

describe('mergeManifests', () => {
  it('combines shards: entries sorted by source, summary recomputed, bytes added, the longest duration, the sources recorded', () => {
    const a = m('a.json', [e('/m/c.png', 'uploaded', { url: 'u/c' }), e('/m/a.png', 'rejected', { rule: 'disguised' })], { shard: { index: 1, total: 2 } });
    const b = m('b.json', [e('/m/b.png', 'skipped', { url: 'u/b' })], {
      shard: { index: 2, total: 2 },
      createdAt: '2026-11-30T23:59:00.000Z',
      summary: { uploaded: 0, skipped: 1, rejected: 0, failed: 0, bytes: 50, durationMs: 3000, interrupted: false, dryRun: false },
    });
    const { manifest, conflicts } = mergeManifests([a, b]);
    expect(conflicts).toEqual([]);
    expect(manifest.entries.map((x) => x.source)).toEqual(['/m/a.png', '/m/b.png', '/m/c.png']);
    expect(manifest.summary).toMatchObject({ uploaded: 1, skipped: 1, rejected: 1, failed: 0, bytes: 150, durationMs: 3000 });
    expect(manifest.createdAt).toBe('2026-11-30T23:59:00.000Z');
    expect(manifest.merged).toEqual({
      from: [
        { path: 'a.json', entries: 2, shard: { index: 1, total: 2 } },
        { path: 'b.json', entries: 1, shard: { index: 2, total: 2 } },
      ],
    });
    expect(manifestUrls(manifest)).toEqual(['u/b', 'u/c']);
  });

  it('one source twice: the same outcome is kept once (the newest), another outcome or URL is a conflict', () => {
    const older = e('/m/a.png', 'uploaded', { url: 'u/a', finishedAt: '2026-12-01T00:00:01.000Z' });
    const newer = e('/m/a.png', 'skipped', { url: 'u/a', finishedAt: '2026-12-01T00:00:05.000Z' });
    const same = mergeManifests([m('a.json', [older]), m('b.json', [newer])]);
    expect(same.conflicts).toEqual([]);
    expect(same.manifest.entries).toEqual([newer]);
    const other = mergeManifests([m('a.json', [older]), m('b.json', [e('/m/a.png', 'failed', { code: 'HTTP' })])]);
    expect(other.conflicts).toEqual(['/m/a.png: done u/a in a.json, but failed (HTTP) in b.json']);
  });

  it('refuses other providers, endpoints, versions and broken shard sets — every conflict listed', () => {
    const { conflicts } = mergeManifests([
      m('a.json', [], { shard: { index: 1, total: 3 } }),
      m('b.json', [], { shard: { index: 1, total: 3 }, provider: 'hybrid', endpoint: 'https://other' }),
      m('c.json', [], { version: 2 }),
    ]);
    expect(conflicts).toEqual([
      'different manifest versions: 1 in a.json, b.json; 2 in c.json',
      'different providers: "bach" in a.json, c.json; "hybrid" in b.json',
      'different endpoints: "https://api/vdr" in a.json, c.json; "https://other" in b.json',
      'c.json: manifest version 2, this batchup reads 1',
      'shard 1/3 given twice: a.json, b.json',
      'not a shard\'s manifest (no "shard" field) among shards: c.json',
      'shards missing: 2/3, 3/3',
    ]);
    expect(mergeManifests([m('a.json', [], { shard: { index: 1, total: 2 } }), m('b.json', [], { shard: { index: 2, total: 3 } })]).conflicts).toEqual([
      'shards of different totals: a.json is 1/2, b.json is 2/3',
    ]);
  });

  it('concatenates provider lists (aihub runs) and refuses other differing extras', () => {
    const { manifest, conflicts } = mergeManifests([m('a.json', [], { runs: [{ id: 1 }] }), m('b.json', [], { runs: [{ id: 2 }] })]);
    expect(conflicts).toEqual([]);
    expect(manifest.runs).toEqual([{ id: 1 }, { id: 2 }]);
    expect(mergeManifests([m('a.json', [], { batch: 'x' }), m('b.json', [], { batch: 'y' })]).conflicts).toEqual(['different "batch" fields']);
  });
});
