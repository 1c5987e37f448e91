import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, emptyState, fold, parseJournal, defaultStateDir } from '../../src/core/journal.js';
import { decide } from '../../src/core/incremental.js';
import { parseDuration } from '../../src/core/parse.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { tempDir } from '../helpers/cli.js';

const DAY = 86_400_000;
const entry = (source: string, extra: Partial<ManifestEntry> = {}): ManifestEntry => ({
  source,
  status: 'uploaded',
  provider: 'bach',
  url: `https://cdn/${source}`,
  expiresAt: new Date(30 * DAY).toISOString(),
  ...extra,
});

describe('journal records', () => {
  it('fold: announced batches are pending until their entries arrive; ZIP entries group under the ZIP', () => {
    const s = emptyState();
    fold(s, { t: 'batch', batchId: 'b1', mode: 'sync', sources: ['/a.png', '/z.zip'] });
    expect([...s.pending.keys()]).toEqual(['b1']);
    expect(s.generations.get('/a.png')).toBe(1);
    fold(s, { t: 'entries', batchId: 'b1', entries: [entry('/a.png'), entry('/z.zip!/1.png'), entry('/z.zip!/2.png')] });
    expect(s.pending.size).toBe(0);
    expect(s.entries.get('/z.zip')!.map((e) => e.source)).toEqual(['/z.zip!/1.png', '/z.zip!/2.png']);
    fold(s, { t: 'forget', sources: ['/a.png'] });
    expect(s.entries.has('/a.png')).toBe(false);
  });

  it('kv scoped to a batch is dropped once that batch records its entries, also across compaction', () => {
    const s = emptyState();
    fold(s, { t: 'kv', key: 'session', value: { id: 1 } });
    fold(s, { t: 'kv', key: 'done:/v.mp4', value: { entry: 1 }, batch: 'b7' });
    fold(s, { t: 'entries', batchId: 'b6', entries: [] });
    expect(s.kv.has('done:/v.mp4')).toBe(true);
    fold(s, { t: 'entries', batchId: 'b7', entries: [] });
    expect(s.kv.has('done:/v.mp4')).toBe(false);
    expect(s.kv.get('session')).toEqual({ id: 1 });
  });

  it('a torn last line (crash mid-write) is ignored', () => {
    const text = `${JSON.stringify({ t: 'kv', key: 'k', value: 1 })}\n{"t":"kv","key":"x","val`;
    expect(parseJournal(text)).toEqual([{ t: 'kv', key: 'k', value: 1 }]);
  });

  it('survives reopen, compacts, and keeps generations so re-uploads get new batch ids', async () => {
    const dir = await tempDir('batchup-journal-');
    let j = await Journal.open(dir);
    j.append({ t: 'batch', batchId: 'b1', mode: 'async', sources: ['/a.png'] }, true);
    j.append({ t: 'entries', batchId: 'b1', entries: [entry('/a.png')] }, true);
    j.append({ t: 'batch', batchId: 'b2', mode: 'async', sources: ['/a.png', '/b.png'] }, true);
    j.kvPut('session', { uploadId: 'u1' });
    await j.close();
    await appendFile(join(dir, 'journal.jsonl'), '{"t":"entr'); // a crash mid-append
    j = await Journal.open(dir);
    expect(j.state.generations.get('/a.png')).toBe(2);
    expect([...j.state.pending.keys()]).toEqual(['b2']);
    expect(j.kvGet('session')).toEqual({ uploadId: 'u1' });
    await j.close();
    // Compaction rewrote the file without the torn line, and reopening again gives the same state.
    expect(await readFile(join(dir, 'journal.jsonl'), 'utf8')).not.toContain('"t":"entr"');
    j = await Journal.open(dir);
    expect(j.state.generations.get('/a.png')).toBe(2);
    expect(j.state.entries.get('/a.png')![0]!.url).toBe('https://cdn//a.png');
    await j.close();
  });

  it('commit: folded at once, on disk when it resolves; commits side by side; close waits for them', async () => {
    const dir = await tempDir('batchup-journal-');
    let j = await Journal.open(dir);
    const a = j.commit({ t: 'batch', batchId: 'b1', mode: 'async', sources: ['/a.png'] });
    const b = j.commit({ t: 'batch', batchId: 'b2', mode: 'async', sources: ['/b.png'] });
    expect([...j.state.pending.keys()]).toEqual(['b1', 'b2']);
    await Promise.all([a, b]);
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text).toContain('"batchId":"b1"');
    expect(text).toContain('"batchId":"b2"');
    const c = j.commit({ t: 'entries', batchId: 'b1', entries: [entry('/a.png')] });
    await j.close();
    await c;
    await j.commit({ t: 'forget', sources: ['/a.png'] }); // after close: nothing written
    j = await Journal.open(dir);
    expect([...j.state.pending.keys()]).toEqual(['b2']);
    expect(j.state.entries.get('/a.png')![0]!.url).toBe('https://cdn//a.png');
    expect(j.state.salt).not.toBe('');
    await j.close();
  });

  it('a lock held by a live process refuses a second run; a stale one is taken over', async () => {
    const dir = await tempDir('batchup-journal-');
    await mkdir(dir, { recursive: true });
    // A live foreign pid (pid 1 always exists) on this host holds the lock.
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 1, host: (await import('node:os')).hostname(), startedAt: 'x' }));
    await expect(Journal.open(dir)).rejects.toThrow(/another batchup run \(pid 1/);
    // A dead pid: stale, taken over.
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 7, host: (await import('node:os')).hostname(), startedAt: 'x' }));
    const again = await Journal.open(dir);
    await again.close();
  });

  it('state folders differ per manifest and per provider endpoint', () => {
    expect(defaultStateDir('/x/m.json', 'bach', 'http://a')).not.toBe(defaultStateDir('/x/m.json', 'bach', 'http://b'));
    expect(defaultStateDir('/x/m.json', 'bach', 'http://a')).toMatch(/^\/x\/\.batchup\/m\.json\.bach-/);
  });
});

describe('incremental decisions', () => {
  const base = { force: false, refreshBeforeMs: 3 * DAY, now: 0 };
  const withFile = (sha = 'aa', size = 10, mtimeMs = 5) => {
    const s = emptyState();
    s.entries.set('/a.png', [entry('/a.png')]);
    s.files.set('/a.png', { size, mtimeMs, sha256: sha });
    return s;
  };
  const cand = (size = 10, mtimeMs = 5) => ({ source: '/a.png', kind: 'file' as const, path: '/a.png', size, mtimeMs, order: 0 });
  const noRead = async () => {
    throw new Error('must not read');
  };

  it('same size and mtime: skipped on a stat alone', async () => {
    const d = await decide(cand(), withFile(), { ...base, hashFile: noRead });
    expect(d.skip).toBe(true);
    if (d.skip) expect(d.entries[0]!.status).toBe('skipped');
  });

  it('mtime moved: hashed, skipped when the content is the same, uploaded when not', async () => {
    expect((await decide(cand(10, 6), withFile('aa'), { ...base, hashFile: async () => 'aa' })).skip).toBe(true);
    expect(await decide(cand(10, 6), withFile('aa'), { ...base, hashFile: async () => 'bb' })).toEqual({ skip: false, reason: 'changed' });
    expect(await decide(cand(11, 5), withFile(), { ...base, hashFile: noRead })).toEqual({ skip: false, reason: 'changed' });
  });

  it('URLs close to expiry are uploaded again; --force uploads everything', async () => {
    expect(await decide(cand(), withFile(), { ...base, now: 28 * DAY, hashFile: noRead })).toEqual({ skip: false, reason: 'expiring' });
    expect((await decide(cand(), withFile(), { ...base, now: 26 * DAY, hashFile: noRead })).skip).toBe(true);
    expect(await decide(cand(), withFile(), { ...base, force: true })).toEqual({ skip: false, reason: 'forced' });
    expect(await decide({ ...cand(), source: '/new.png' }, withFile(), base)).toEqual({ skip: false, reason: 'new' });
  });

  it('parses durations', () => {
    expect(parseDuration('3d')).toBe(3 * DAY);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('45')).toBe(45_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
