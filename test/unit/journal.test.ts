import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal, emptyState, fold, parseJournal, defaultStateDir, type JournalState } from '../../src/core/journal.js';
import { decide } from '../../src/core/incremental.js';
import { parseDuration } from '../../src/core/parse.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import { ordered } from '../../src/core/journal-codec.js';
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
    expect(s.generation('/a.png')).toBe(1);
    fold(s, { t: 'entries', batchId: 'b1', entries: [entry('/a.png'), entry('/z.zip!/1.png'), entry('/z.zip!/2.png')] });
    expect(s.pending.size).toBe(0);
    expect(s.entries('/z.zip')!.map((e) => e.source)).toEqual(['/z.zip!/1.png', '/z.zip!/2.png']);
    fold(s, { t: 'forget', sources: ['/a.png'] });
    expect(s.entries('/a.png')).toBeUndefined();
    expect(s.generation('/a.png')).toBe(1); // a re-upload still gets a new batch id
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
    expect(j.state.generation('/a.png')).toBe(2);
    expect([...j.state.pending.keys()]).toEqual(['b2']);
    expect(j.kvGet('session')).toEqual({ uploadId: 'u1' });
    await j.close();
    // Compaction rewrote the file without the torn line, and reopening again gives the same state.
    expect(await readFile(join(dir, 'journal.jsonl'), 'utf8')).not.toContain('"t":"entr"');
    j = await Journal.open(dir);
    expect(j.state.generation('/a.png')).toBe(2);
    expect(j.state.entries('/a.png')![0]!.url).toBe('https://cdn//a.png');
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
    const c = j.record([{ source: '/a.png', entries: [entry('/a.png')] }], { batchId: 'b1' });
    await j.close();
    await c;
    await j.commit({ t: 'batch', batchId: 'b3', mode: 'async', sources: ['/c.png'] }); // after close: nothing written
    j = await Journal.open(dir);
    expect([...j.state.pending.keys()]).toEqual(['b2']);
    expect(j.state.entries('/a.png')![0]!.url).toBe('https://cdn//a.png');
    expect(j.state.salt).not.toBe('');
    await j.close();
  });

  it('reads a journal of the previous format (full entries), and rewrites it in the compact one', async () => {
    const dir = await tempDir('batchup-journal-v1-');
    const uploaded = (source: string, i: number): ManifestEntry => ({
      source,
      status: 'uploaded',
      provider: 'bach',
      name: source.split('/').pop(),
      size: 10 + i,
      sha256: `${i}`.repeat(64).slice(0, 64),
      mtimeMs: 1000.5 + i,
      format: 'png',
      batchId: 'bu-1',
      mode: 'async',
      index: i,
      startedAt: '2026-01-01T00:00:00.000Z',
      url: `https://cdn/${`${i}`.repeat(64).slice(0, 64)}.png`,
      expiresAt: '2026-01-31T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
    });
    const files = ['/t/a.png', '/t/b.png', '/t/c.png'];
    const old = [
      { t: 'salt', value: 'abcd' },
      { t: 'batch', batchId: 'bu-1', mode: 'async', sources: files, at: 5 },
      ...files.map((source, i) => ({ t: 'file', source, size: 10 + i, mtimeMs: 1000.5 + i, sha256: `${i}`.repeat(64).slice(0, 64) })),
      { t: 'entries', batchId: 'bu-1', entries: files.map(uploaded) },
      { t: 'done', source: '/t/v.mp4', entries: [{ ...uploaded('/t/v.mp4', 7), id: 'vid-1', remote: { id: 'vid-1' } }], params: 'ch=2', drop: ['k1'] },
      { t: 'batch', batchId: 'bu-2', mode: 'sync', sources: ['/t/d.png'], at: 9 },
      { t: 'kv', key: 'k2', value: { id: 1 }, batch: 'bu-2' },
      { t: 'gen', source: '/t/gone.png', n: 3 },
    ];
    await writeFile(join(dir, 'journal.jsonl'), `${old.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const check = (s: JournalState) => {
      expect(s.salt).toBe('abcd');
      for (const [i, f] of files.entries()) expect(s.entries(f)).toEqual([uploaded(f, i)]);
      expect(s.entries('/t/v.mp4')![0]).toMatchObject({ id: 'vid-1', remote: { id: 'vid-1' }, status: 'uploaded' });
      expect(s.params('/t/v.mp4')).toBe('ch=2');
      expect(s.fingerprint('/t/b.png')).toEqual({ size: 11, mtimeMs: 1001.5, sha256: '1'.repeat(64) });
      expect([...s.pending.keys()]).toEqual(['bu-2']);
      expect(s.kv.get('k2')).toEqual({ id: 1 });
      expect([s.generation('/t/a.png'), s.generation('/t/d.png'), s.generation('/t/gone.png')]).toEqual([1, 1, 3]);
    };
    check(await Journal.peek(dir)); // a dry run reads it and changes nothing
    expect(await readFile(join(dir, 'journal.jsonl'), 'utf8')).toContain('"t":"entries"');
    const j = await Journal.open(dir);
    check(j.state);
    await j.close();
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text.startsWith('{"t":"v","n":2}')).toBe(true);
    expect(text).not.toContain('"t":"entries"');
    expect(text).not.toContain('"t":"done"');
    check(await Journal.peek(dir));
  });

  it('a journal of a newer format is refused, saying what to do', async () => {
    const dir = await tempDir('batchup-journal-v9-');
    await writeFile(join(dir, 'journal.jsonl'), '{"t":"v","n":9}\n');
    await expect(Journal.open(dir)).rejects.toThrow(/written by a newer batchup \(format 9.*upgrade batchup, or give this run another --state/);
  });

  it('records a batch compactly; compaction keeps entries, fingerprints, generations, pending batches and session state', async () => {
    const dir = await tempDir('batchup-journal-v2-');
    let j = await Journal.open(dir);
    const sources = Array.from({ length: 300 }, (_, i) => `/tree/img-${i}.png`);
    j.append({ t: 'batch', batchId: 'b1', mode: 'async', sources }, true);
    const inputs = sources.map((source, i) => {
      const sha256 = `${(i % 10).toString()}${'f'.repeat(63)}`;
      return {
        source,
        fp: { size: 9000 + i, mtimeMs: 1796582902142.75 + i, sha256 },
        entries: [
          {
            ...entry(source),
            name: `img-${i}.png`,
            size: 9000 + i,
            sha256,
            mtimeMs: 1796582902142.75 + i,
            batchId: 'b1',
            index: i,
            url: `https://cdn/x/${sha256}.png`,
          },
        ],
      };
    });
    const before = (await readFile(join(dir, 'journal.jsonl'))).length;
    j.record(inputs, { batchId: 'b1', params: 'p' });
    const bytes = (await readFile(join(dir, 'journal.jsonl'))).length - before;
    expect(bytes / 300).toBeLessThan(170); // a manifest entry and a file record took ~690
    j.append({ t: 'file', source: '/tree/img-3.png', size: 9003, mtimeMs: 7, sha256: 'e'.repeat(64) }); // rehashed: only the mtime moved
    j.append({ t: 'batch', batchId: 'b2', mode: 'sync', sources: ['/tree/img-1.png', '/tree/new.png'] }, true);
    j.kvPut('session', { id: 2 }, 'b2');
    for (let i = 0; i < 1100; i++) j.append({ t: 'kv', key: 'churn', value: i }); // grows the journal past what it holds
    await j.close();
    const expectState = (s: JournalState) => {
      expect(s.entries('/tree/img-7.png')).toEqual([ordered(inputs[7]!.entries[0]!)]);
      expect(s.entries('/tree/img-3.png')![0]!.mtimeMs).toBe(7);
      expect(s.params('/tree/img-7.png')).toBe('p');
      expect([s.generation('/tree/img-1.png'), s.generation('/tree/img-2.png'), s.generation('/tree/new.png')]).toEqual([2, 1, 1]);
      expect([...s.pending.keys()]).toEqual(['b2']);
      expect(s.kv.get('session')).toEqual({ id: 2 });
      expect(s.kv.get('churn')).toBe(1099);
    };
    j = await Journal.open(dir);
    expectState(j.state);
    await j.close();
    const text = await readFile(join(dir, 'journal.jsonl'), 'utf8');
    expect(text.split('\n').length).toBeLessThan(20); // compacted
    expectState(await Journal.peek(dir));
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
  const withFile = (sha = 'aa', size = 10, mtimeMs = 5): JournalState => {
    const s = emptyState();
    fold(s, { t: 'file', source: '/a.png', size, mtimeMs, sha256: sha });
    fold(s, { t: 'done', source: '/a.png', entries: [entry('/a.png')] });
    return s;
  };
  const cand = (size = 10, mtimeMs = 5) => ({ source: '/a.png', kind: 'file' as const, path: '/a.png', size, mtimeMs, order: 0 });
  const noRead = async () => {
    throw new Error('must not read');
  };

  it('same size and mtime: skipped on a stat alone', async () => {
    const d = await decide(cand(), withFile(), { ...base, hashFile: noRead });
    expect(d.skip).toBe(true);
    if (d.skip) expect(d.entries).toBe(1); // how many entries it has (the journal holds them)
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
