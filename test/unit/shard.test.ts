/** --shard: parsing (K/N, N with JOB_COMPLETION_INDEX), identities, and a split that is a partition. */
import { describe, expect, it } from 'vitest';
import { CandidateList } from '../../src/core/scan.js';
import { applyShard, parseShard, shardIdentity, shardOf } from '../../src/core/shard.js';
import type { Candidate } from '../../src/core/types.js';
import { nothingToDo, runFlagsFrom, shardManifestPath } from '../../src/cli/run-flags.js';

describe('parseShard', () => {
  it('takes K/N (1-based), and N alone in a Kubernetes Indexed Job (0-based index + 1)', () => {
    expect(parseShard('3/8', {})).toEqual({ index: 3, total: 8 });
    expect(parseShard(' 1 / 1 ', {})).toEqual({ index: 1, total: 1 });
    expect(parseShard('8', { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, total: 8 });
    expect(parseShard('8', { JOB_COMPLETION_INDEX: '7' })).toEqual({ index: 8, total: 8 });
    // An explicit K wins over the Job's index.
    expect(parseShard('2/8', { JOB_COMPLETION_INDEX: '5' })).toEqual({ index: 2, total: 8 });
  });

  it('refuses what is not a shard, naming where it came from', () => {
    expect(() => parseShard('0/8', {})).toThrow(/K must be from 1 to 8/);
    expect(() => parseShard('9/8', {})).toThrow(/K must be from 1 to 8/);
    expect(() => parseShard('1/0', {})).toThrow(/N must be from 1/);
    expect(() => parseShard('a/b', {})).toThrow(/--shard takes K\/N/);
    expect(() => parseShard('8', {})).toThrow(/JOB_COMPLETION_INDEX/);
    expect(() => parseShard('8', { JOB_COMPLETION_INDEX: '8' })).toThrow(/beyond 8 shards/);
    expect(() => runFlagsFrom({}, { BATCHUP_SHARD: '5/4' })).toThrow(/BATCHUP_SHARD/);
    expect(runFlagsFrom({}, { BATCHUP_SHARD: '2/4' }).shard).toEqual({ index: 2, total: 4 });
    expect(runFlagsFrom({ shard: '1/4' }, { BATCHUP_SHARD: '2/4' }).shard).toEqual({ index: 1, total: 4 });
  });
});

describe('the split', () => {
  it('identifies a file by its path relative to the cwd when inside it, else absolute; URLs as given', () => {
    expect(shardIdentity('/ci/work/media/a.png', 'file', '/ci/work')).toBe('media/a.png');
    expect(shardIdentity('/elsewhere/a.png', 'file', '/ci/work')).toBe('/elsewhere/a.png');
    expect(shardIdentity('https://x.test/a.png', 'url', '/ci/work')).toBe('https://x.test/a.png');
    expect(shardIdentity('storage://shop/in/', 'storage', '/ci/work')).toBe('storage://shop/in/');
    // Two checkouts at different places agree.
    const a = shardOf(shardIdentity('/runner-1/_work/repo/media/a.png', 'file', '/runner-1/_work/repo'), 8);
    const b = shardOf(shardIdentity('/home/ci/repo/media/a.png', 'file', '/home/ci/repo'), 8);
    expect(a).toBe(b);
  });

  it('puts every input in exactly one shard, roughly evenly, the same way every time', () => {
    const paths = Array.from({ length: 4000 }, (_, i) => `/w/m/${i}.png`);
    const urls: Candidate[] = [{ source: 'https://x.test/a.png', kind: 'url', url: 'https://x.test/a.png', order: 4000 }];
    const candidates = new CandidateList(
      paths,
      paths.map(() => 1),
      paths.map(() => 2),
      urls,
    );
    const rejections = [{ source: '/w/missing.png', rule: 'unreadable' as const, message: 'gone' }];
    const parts = Array.from({ length: 8 }, (_, k) => applyShard({ candidates, rejections }, { index: k + 1, total: 8 }, '/w'));
    const all = parts.flatMap((p) => p.candidates.map((c) => c.source));
    expect(all).toHaveLength(4001);
    expect(new Set(all).size).toBe(4001);
    // Each input keeps its scan order.
    for (const p of parts) for (const c of p.candidates.map((c) => c)) expect(c.order).toBe(c.kind === 'url' ? 4000 : paths.indexOf(c.source));
    for (const p of parts) expect(p.candidates.length).toBeGreaterThan(400);
    expect(parts.flatMap((p) => p.rejections)).toHaveLength(1);
    expect(applyShard({ candidates, rejections }, { index: 3, total: 8 }, '/w').candidates).toEqual(parts[2]!.candidates);
    expect(applyShard({ candidates, rejections }, undefined, '/w').candidates).toHaveLength(4001);
  });

  it('gives each shard its own default manifest', () => {
    expect(shardManifestPath('batchup-manifest.json', { index: 3, total: 8 })).toBe('batchup-manifest.shard-3-of-8.json');
    expect(shardManifestPath('out/m', { index: 1, total: 2 })).toBe('out/m.shard-1-of-2');
  });
});

describe('nothing to do', () => {
  const s = { uploaded: 0, skipped: 0, rejected: 0, failed: 0, bytes: 0, durationMs: 1, interrupted: false, dryRun: false };
  it('is all skipped or no input, with nothing rejected or failed, not interrupted', () => {
    expect(nothingToDo({ ...s, skipped: 5 }, 0)).toBe(true);
    expect(nothingToDo(s, 0)).toBe(true);
    expect(nothingToDo({ ...s, uploaded: 1, skipped: 5 }, 0)).toBe(false);
    expect(nothingToDo({ ...s, skipped: 5, rejected: 1 }, 0)).toBe(false);
    expect(nothingToDo({ ...s, skipped: 5, interrupted: true }, 0)).toBe(false);
    expect(nothingToDo({ ...s, dryRun: true }, 0)).toBe(true);
    expect(nothingToDo({ ...s, dryRun: true }, 3)).toBe(false);
  });
});
