import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { makePng } from '../../src/devtools/generate.js';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Candidate, ValidationPolicy } from '../../src/core/types.js';
import { validateCandidate } from '../../src/core/validate/index.js';
import { mapPool } from '../../src/core/pool.js';
import { LIMITS } from '../../src/providers/bach/contract.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';
import { candidate, FIXTURES, fixture, messageOf, ruleOf, tempDir, validatePath } from './validate-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('bachPolicy', () => {
  it('is built from the contract', () => {
    expect(bachPolicy.maxFileSize).toBe(LIMITS.maxFileSize);
    expect([...bachPolicy.extensions.keys()].sort()).toEqual(['bmp', 'gif', 'ico', 'jpeg', 'jpg', 'png', 'svg', 'tif', 'tiff', 'webp', 'zip']);
    expect(bachPolicy.extensions.get('jpeg')).toBe('jpg');
    expect(bachPolicy.extensions.get('tif')).toBe('tiff');
    expect(bachPolicy.maxPixels).toBe(268_402_689);
  });
});

describe('fixtures/images', () => {
  const files = readdirSync(FIXTURES).filter((f) => f !== 'README.md');

  it('has 8–10 small files', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files.length).toBeLessThanOrEqual(10);
    for (const f of files) expect(fixture(f).length).toBeLessThan(50 * 1024);
  });

  it.each(files)('%s passes validation under bachPolicy', async (f) => {
    const r = await validatePath(join(FIXTURES, f));
    expect(messageOf(r)).toBe('');
    expect(r.ok).toBe(true);
  });

  it('reports format, size and dimensions', async () => {
    const r = await validatePath(join(FIXTURES, 'gradient.png'));
    expect(r.ok && r.item).toMatchObject({ kind: 'file', name: 'gradient.png', format: 'png', width: 64, height: 48, size: 6370 });
    const j = await validatePath(join(FIXTURES, 'photo.jpg'));
    expect(j.ok && j.item).toMatchObject({ format: 'jpg', width: 96, height: 64 });
  });

  it('lists the images of set.zip', async () => {
    const r = await validatePath(join(FIXTURES, 'set.zip'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.item.format).toBe('zip');
    expect(r.item.zipEntries).toEqual([
      { path: 'gradient.png', size: 6370, format: 'png' },
      { path: 'photo.jpg', size: 1005, format: 'jpg' },
      { path: 'logo.svg', size: 511, format: 'svg' },
    ]);
  });
});

describe('basic rules', () => {
  it('rejects a 0-byte file as empty-file', async () => {
    const r = await validatePath(tmp.write('empty.png', Buffer.alloc(0)));
    expect(ruleOf(r)).toBe('empty-file');
    expect(messageOf(r)).toBe('empty.png: file is empty (empty-file)');
  });

  it('rejects a file over the limit as too-large, with the size in MB', async () => {
    const big = tmp.write('big.jpg', Buffer.alloc(15 * 1024 * 1024));
    expect(messageOf(await validatePath(big))).toBe('big.jpg: size is 15.00 MB, over the limit of 10 MB (too-large)');
    // Exactly the limit is fine as far as size goes (this one then fails as not-a-JPEG).
    const edge = tmp.write('edge.jpg', Buffer.alloc(LIMITS.maxFileSize));
    expect(ruleOf(await validatePath(edge))).toBe('disguised');
    const policy: ValidationPolicy = { ...bachPolicy, maxFileSize: 4096 };
    expect(ruleOf(await validatePath(join(FIXTURES, 'gradient.png'), policy))).toBe('too-large');
  });

  it('rejects a PDF named .jpg as disguised', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    const r = await validatePath(tmp.write('invoice.jpg', pdf));
    expect(ruleOf(r)).toBe('disguised');
    expect(messageOf(r)).toBe('invoice.jpg: content is PDF, not JPG (disguised)');
  });

  it('rejects an honest PDF as unsupported-type', async () => {
    const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
    expect(messageOf(await validatePath(tmp.write('doc.pdf', pdf)))).toBe('doc.pdf: PDF files are not supported (unsupported-type)');
  });

  it('accepts .jpeg / .tif aliases and rejects a PNG named .jpg', async () => {
    expect(ruleOf(await validatePath(tmp.write('a.jpeg', fixture('photo.jpg'))))).toBe('ok');
    expect(ruleOf(await validatePath(tmp.write('a.TIF', fixture('scan.tiff'))))).toBe('ok');
    const r = await validatePath(tmp.write('p.jpg', fixture('gradient.png')));
    expect(messageOf(r)).toBe('p.jpg: content is PNG, not JPG (disguised)');
  });

  it('rejects text with an image extension as disguised', async () => {
    const r = await validatePath(tmp.write('x.webp', '{"WEBP": {}}'));
    expect(messageOf(r)).toBe('x.webp: content is text, not WEBP (disguised)');
  });

  it('rejects unknown extensions and missing extensions as unsupported-type', async () => {
    expect(messageOf(await validatePath(tmp.write('notes.txt', 'hello')))).toBe("notes.txt: extension '.txt' is not supported (unsupported-type)");
    expect(messageOf(await validatePath(tmp.write('photo', fixture('photo.jpg'))))).toBe(
      'photo: files without an extension are not supported (unsupported-type)',
    );
  });

  it('reports a missing file as unreadable', async () => {
    const c: Candidate = { source: join(tmp.dir, 'gone.png'), kind: 'file', path: join(tmp.dir, 'gone.png'), order: 0 };
    const r = await validateCandidate(c, bachPolicy);
    expect(ruleOf(r)).toBe('unreadable');
    expect(messageOf(r)).toMatch(/^gone\.png: cannot be opened \(ENOENT\) \(unreadable\)$/);
  });

  it('small files (read at once) and others (through a handle) get the same verdicts', async () => {
    const sub = join(tmp.dir, 'sub.png');
    mkdirSync(sub, { recursive: true });
    const gone = join(tmp.dir, 'gone.png');
    for (const size of [10, undefined, 10 * 1024 * 1024]) {
      const at = (path: string): Candidate => ({ source: path, kind: 'file', path, size, order: 0 });
      expect(messageOf(await validateCandidate(at(gone), bachPolicy))).toBe('gone.png: cannot be opened (ENOENT) (unreadable)');
      expect(messageOf(await validateCandidate(at(sub), bachPolicy))).toBe('sub.png: is not a regular file (unreadable)');
    }
    // A FIFO put where a file was scanned: rejected at once (opening it must not wait for a writer).
    const fifo = join(tmp.dir, 'fifo.png');
    execFileSync('mkfifo', [fifo]);
    const f = await validateCandidate({ source: fifo, kind: 'file', path: fifo, size: 0, order: 0 }, bachPolicy);
    expect(messageOf(f)).toBe('fifo.png: is not a regular file (unreadable)');
    // Scanned small, grown past the small-file size since: validated whole from the disk.
    const grown = tmp.write('grown.png', makePng(7, { minBytes: 200 * 1024 }));
    const r = await validateCandidate({ source: grown, kind: 'file', path: grown, size: 100, order: 0 }, bachPolicy);
    expect(r.ok && r.item.size).toBe(statSync(grown).size);
    const cut = tmp.write('cut.png', makePng(8, { minBytes: 200 * 1024 }).subarray(0, 150 * 1024));
    expect(ruleOf(await validateCandidate({ source: cut, kind: 'file', path: cut, size: 100, order: 0 }, bachPolicy))).toBe('corrupt');
  });
});

describe('URL candidates', () => {
  const url = (u: string): Candidate => ({ source: u, kind: 'url', url: u, order: 0 });

  it('accepts http(s) URLs without fetching them', async () => {
    const r = await validateCandidate(url('https://cdn.example.com/a/b%20c.png?x=1'), bachPolicy);
    expect(r.ok && r.item).toMatchObject({ kind: 'url', url: 'https://cdn.example.com/a/b%20c.png?x=1', name: 'b c.png' });
  });

  it('rejects other schemes and junk as bad-url', async () => {
    expect(ruleOf(await validateCandidate(url('ftp://example.com/a.png'), bachPolicy))).toBe('bad-url');
    expect(ruleOf(await validateCandidate(url('not a url'), bachPolicy))).toBe('bad-url');
  });
});

describe('many files, through mapPool as the pipeline validates them', () => {
  it('yields results in input order with bounded concurrency', async () => {
    const names = ['gradient.png', 'photo.jpg', 'checker.bmp', 'sunset.webp', 'spinner.gif'];
    const cands = [...names.map((n) => candidate(join(FIXTURES, n))), candidate(tmp.write('zero.gif', Buffer.alloc(0)))];
    const out = await mapPool(cands, 2, (c) => validateCandidate(c, bachPolicy));
    expect(out.map((r) => (r.ok ? r.item.name : r.rejection.rule))).toEqual([...names, 'empty-file']);
  });

  it('validates a folder of 1,000 small images of five formats', async () => {
    const bulk = tempDir();
    try {
      const srcs = ['gradient.png', 'photo.jpg', 'spinner.gif', 'checker.bmp', 'sunset.webp'].map((n) => [n, fixture(n)] as const);
      const cands = Array.from({ length: 1000 }, (_, i) => {
        const [n, data] = srcs[i % srcs.length]!;
        return candidate(bulk.write(`${i}-${n}`, data));
      });
      const out = await mapPool(cands, 16, (c) => validateCandidate(c, bachPolicy));
      expect(out.filter((r) => r.ok)).toHaveLength(1000);
    } finally {
      bulk.cleanup();
    }
  });
});
