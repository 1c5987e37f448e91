import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { scan } from '../../src/core/scan.js';
import { writeJsonAtomic } from '../../src/core/manifest.js';
import { tempDir } from '../helpers/cli.js';

async function tree(files: string[]) {
  const dir = await tempDir('batchup-scan-');
  for (const f of files) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), f);
  }
  return dir;
}

describe('scan', () => {
  it('walks folders recursively in a stable order, skips dotfiles, de-duplicates', async () => {
    const dir = await tree(['b.png', 'a/z.jpg', 'a/b/c.gif', '.hidden.png', 'A.png']);
    const { candidates, rejections } = await scan({ paths: [dir, join(dir, 'b.png')], cwd: dir });
    expect(rejections).toEqual([]);
    expect(candidates.map((c) => c.source.slice(dir.length + 1))).toEqual(['A.png', 'a/b/c.gif', 'a/z.jpg', 'b.png']);
    expect(candidates.map((c) => c.order)).toEqual([0, 1, 2, 3]);
    expect(candidates.at(0).size).toBe('A.png'.length);
  });

  it('a plain folder is walked as globby finds it: the same files in the same order, links followed once', async () => {
    const dir = await tree(['a.png', 'a/x.png', 'a-b.png', 'a b/y.png', 'b/.h/z.png', 'b/c.png', '.top/q.png', 'Z.png', 'é.png', 'z/deep/er/f.png']);
    await symlink(join(dir, 'a.png'), join(dir, 'link.png'));
    await symlink(join(dir, 'z'), join(dir, 'a/zlink'));
    await symlink(join(dir, 'gone.png'), join(dir, 'broken.png'));
    const walked = await scan({ paths: [dir], cwd: dir });
    const globbed = await scan({ paths: [dir], include: ['**/*'], cwd: dir });
    const rows = (r: typeof walked) => r.candidates.map((c) => [c.source.slice(dir.length + 1), c.size, c.mtimeMs]);
    expect(rows(walked)).toEqual(rows(globbed));
    expect(rows(walked).map((r) => r[0])).toContain('a/zlink/deep/er/f.png');
    // A link back up the tree (globby would follow it round) is not entered.
    await symlink(dir, join(dir, 'z/loop'));
    expect(rows(await scan({ paths: [dir], cwd: dir }))).toEqual(rows(walked));
  });

  it('applies include/exclude patterns and an ignore file', async () => {
    const dir = await tree(['keep.png', 'skip.png', 'raw/x.png', 'y.tmp']);
    await writeFile(join(dir, '.batchupignore'), 'raw/\n');
    const { candidates } = await scan({
      paths: [dir],
      cwd: dir,
      include: ['**/*.png'],
      exclude: ['skip.*'],
      ignoreFile: join(dir, '.batchupignore'),
    });
    expect(candidates.map((c) => c.source.slice(dir.length + 1))).toEqual(['keep.png']);
  });

  it('expands globs relative to cwd and reports paths that do not exist', async () => {
    const dir = await tree(['p/1.png', 'p/2.jpg']);
    const { candidates, rejections } = await scan({ paths: ['p/*.png', 'nope.png', 'q/*.png'], cwd: dir });
    expect(candidates.map((c) => c.source)).toEqual([join(dir, 'p/1.png')]);
    expect(rejections.map((r) => r.rule)).toEqual(['unreadable', 'unreadable']);
    expect(rejections[0]!.message).toContain('nope.png');
  });

  it('reads URL lists from a file or stdin, with comments and blank lines', async () => {
    const dir = await tree([]);
    await writeFile(join(dir, 'urls.txt'), '# list\nhttps://a/1.png\n\nhttps://a/2.png  # second\nhttps://a/1.png\n');
    const fromFile = await scan({ paths: [], urlsFile: 'urls.txt', cwd: dir });
    expect(fromFile.candidates.map((c) => c.url)).toEqual(['https://a/1.png', 'https://a/2.png']);
    const fromStdin = await scan({ paths: [], urlsFile: '-', cwd: dir, stdin: Readable.from(['https://b/x.png\n']) });
    expect(fromStdin.candidates.map((c) => [c.kind, c.source])).toEqual([['url', 'https://b/x.png']]);
  });

  it('takes the sources of a previous manifest (ZIP entries as their ZIP)', async () => {
    const dir = await tree(['one.png', 'set.zip']);
    await writeJsonAtomic(join(dir, 'm.json'), {
      version: 1,
      entries: [
        { source: join(dir, 'one.png'), status: 'uploaded' },
        { source: `${join(dir, 'set.zip')}!/a.png`, status: 'uploaded' },
        { source: `${join(dir, 'set.zip')}!/b.png`, status: 'failed' },
        { source: 'https://x/y.png', status: 'uploaded' },
        { source: join(dir, 'gone.png'), status: 'uploaded' },
      ],
    });
    const { candidates, rejections } = await scan({ paths: [], fromManifests: ['m.json'], cwd: dir });
    expect(candidates.map((c) => c.source)).toEqual([join(dir, 'one.png'), join(dir, 'set.zip'), 'https://x/y.png']);
    expect(rejections.map((r) => r.source)).toEqual([join(dir, 'gone.png')]);
  });
});
