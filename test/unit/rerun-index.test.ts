import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyManifest, type ManifestEntry, writeManifestStream } from '../../src/core/manifest.js';
import { type RerunIndex, asSkipped, mismatch, sameInputs } from '../../src/core/rerun-index.js';
import { CandidateList, type ScanResult } from '../../src/core/scan.js';
import { tempDir } from '../helpers/cli.js';

const DAY = 86_400_000;
const list = (files: [string, number, number][]) =>
  new CandidateList(
    files.map((f) => f[0]),
    files.map((f) => f[1]),
    files.map((f) => f[2]),
    [],
  );
const scanned = (files: [string, number, number][]): ScanResult => ({ candidates: list(files), rejections: [] });
const FILES: [string, number, number][] = [
  ['/t/a.png', 10, 1000.5],
  ['/t/b.png', 20, 2000],
];
const index = (o: Partial<RerunIndex> = {}): RerunIndex => ({
  v: 1,
  key: 'k',
  journal: 'j',
  manifest: 'm',
  inputs: 2,
  digest: list(FILES).digest(),
  entries: 2,
  rerun: true,
  expiry: 30 * DAY,
  refreshAt: 27 * DAY,
  ...o,
});
const here = { key: 'k', journal: 'j', manifest: 'm', now: 0 };

describe('rerun index: whether it holds', () => {
  it('holds when settings, journal and manifest are as the index says and no URL is due', () => {
    expect(mismatch(index(), here)).toBeUndefined();
    expect(mismatch(index({ expiry: null, refreshAt: null }), { ...here, now: 1e15, refreshBeforeMs: 1e15 })).toBeUndefined();
  });

  it('does not hold when anything it was made from differs', () => {
    expect(mismatch(index(), { ...here, key: 'k2' })).toBe('settings');
    expect(mismatch(index(), { ...here, journal: 'j2' })).toBe('journal');
    expect(mismatch(index(), { ...here, journal: undefined })).toBe('journal');
    expect(mismatch(index(), { ...here, manifest: undefined })).toBe('manifest');
  });

  it('a URL due for a refresh: within --refresh-before, or by default within its own window', () => {
    expect(mismatch(index(), { ...here, now: 27 * DAY })).toBeUndefined();
    expect(mismatch(index(), { ...here, now: 27 * DAY + 1 })).toBe('expiring');
    expect(mismatch(index(), { ...here, now: 20 * DAY, refreshBeforeMs: 10 * DAY })).toBeUndefined();
    expect(mismatch(index(), { ...here, now: 20 * DAY + 1, refreshBeforeMs: 10 * DAY })).toBe('expiring');
  });

  it('the inputs: the same sources in the same order with the same size and mtime', () => {
    expect(sameInputs(index(), scanned(FILES))).toBe(true);
    expect(sameInputs(index(), scanned([FILES[1]!, FILES[0]!]))).toBe(false);
    expect(sameInputs(index(), scanned([FILES[0]!, ['/t/b.png', 21, 2000]]))).toBe(false);
    expect(sameInputs(index(), scanned([FILES[0]!, ['/t/b.png', 20, 2000.25]]))).toBe(false);
    expect(sameInputs(index(), scanned([FILES[0]!, ['/t/c.png', 20, 2000]]))).toBe(false);
    expect(sameInputs(index(), scanned([...FILES, ['/t/c.png', 1, 1]]))).toBe(false);
    expect(sameInputs(index(), { ...scanned(FILES), rejections: [{ source: '/t/x', rule: 'unreadable', message: 'x' }] })).toBe(false);
    // NUL separates the fields: no two lists hash alike by moving a boundary.
    expect(list([['/t/a', 1, 11]]).digest()).not.toBe(list([['/t/a1', 1, 1]]).digest());
  });
});

describe('rerun index: the manifest copied as a rerun writes it', () => {
  const entry = (source: string, status: ManifestEntry['status'], extra: Partial<ManifestEntry> = {}): ManifestEntry => ({
    source,
    status,
    url: `https://cdn.example/${encodeURIComponent(source)}`,
    provider: 'bach',
    size: 1,
    ...extra,
  });

  async function copied(entries: ManifestEntry[], rerun: boolean) {
    const dir = await tempDir('batchup-rerun-');
    const from = join(dir, 'from.json');
    const to = join(dir, 'to.json');
    await writeManifestStream(from, { version: 1, tool: 'batchup', provider: 'bach', createdAt: 'a', updatedAt: 'b' }, entries);
    const head = { version: 1, tool: 'batchup' as const, provider: 'bach', createdAt: 'c', updatedAt: 'd', summary: { skipped: entries.length } as never };
    await (await copyManifest(to, head, from, rerun ? undefined : asSkipped(entries.length))).commit();
    const expected = join(dir, 'expected.json');
    await writeManifestStream(
      expected,
      head,
      entries.map((e) => ({ ...e, status: 'skipped' })),
    );
    return { got: await readFile(to, 'utf8'), expected: await readFile(expected, 'utf8') };
  }

  it('uploaded becomes skipped, in each entry’s own status only', async () => {
    const entries = [
      entry('/t/a.png', 'uploaded'),
      entry('/t/"quoted","status":"uploaded".png', 'uploaded'),
      entry('/t/back\\slash\\', 'skipped'),
      entry('/t/ünïcode ✓.png', 'uploaded', { remote: { id: 'x', status: 'uploaded', nested: { status: 'uploaded' } } }),
    ];
    const { got, expected } = await copied(entries, false);
    expect(got).toBe(expected);
    expect(JSON.parse(got).entries[3].remote).toEqual({ id: 'x', status: 'uploaded', nested: { status: 'uploaded' } });
  });

  it('a manifest larger than a read, lines across its boundaries', async () => {
    const entries = Array.from({ length: 6000 }, (_, i) => entry(`/t/${'d/'.repeat(i % 40)}img-${i}.png`, i % 3 ? 'uploaded' : 'skipped'));
    const { got, expected } = await copied(entries, false);
    expect(got).toBe(expected);
  });

  it('a rerun’s manifest is copied as it is; no entries at all, too', async () => {
    const skipped = [entry('/t/a.png', 'skipped'), entry('/t/b.png', 'skipped')];
    const a = await copied(skipped, true);
    expect(a.got).toBe(a.expected);
    const b = await copied([], true);
    expect(b.got).toBe(b.expected);
  });

  it('gives up on an entry neither uploaded nor skipped, or another number of entries', async () => {
    await expect(copied([entry('/t/a.png', 'failed')], false)).rejects.toThrow(/neither uploaded nor skipped/);
    const dir = await tempDir('batchup-rerun-');
    const from = join(dir, 'from.json');
    await writeManifestStream(from, { version: 1, tool: 'batchup', provider: 'bach', createdAt: 'a', updatedAt: 'b' }, [entry('/t/a.png', 'uploaded')]);
    const head = { version: 1, tool: 'batchup' as const, provider: 'bach', createdAt: 'c', updatedAt: 'd' };
    await expect(copyManifest(join(dir, 'to.json'), head, from, asSkipped(2))).rejects.toThrow(/1 entries, not 2/);
    await expect(readFile(join(dir, 'to.json'))).rejects.toThrow(/ENOENT/);
  });
});
