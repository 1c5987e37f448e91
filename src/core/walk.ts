/**
 * A folder walk for the common case — a folder with no include, exclude or ignore file — that
 * finds what `globby('**\/*', {dot: false, onlyFiles: true, followSymbolicLinks: true})` finds,
 * with one stat per file and nothing else kept: each file goes to `onFile` with its size and
 * mtime as it is found. Hidden entries (a leading dot) are left out, files and folders alike;
 * symbolic links are followed (a link to a folder that is one of its own ancestors is not
 * entered twice). Entries come in code-point order of their full paths: each folder's entries
 * are sorted by name, a folder's name taken with its `/` (so `a.png` comes before `a/x.png`,
 * as `.` sorts before `/`), so the caller needs no sort of its own.
 *
 * globby took ~2 µs and ~1.6 KB a file more (its entries, stats objects and a result array for
 * the whole tree); this is what a nightly rerun of an unchanged 100k tree mostly spends its time on.
 */
import { type Dirent, readdirSync, statSync } from 'node:fs';

export type OnFile = (path: string, size: number, mtimeMs: number) => void;

export function walkFolder(root: string, onFile: OnFile): void {
  const top = statSync(root);
  walk(root.endsWith('/') ? root.slice(0, -1) : root, [`${top.dev}:${top.ino}`], onFile);
}

function walk(dir: string, ancestors: string[], onFile: OnFile): void {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // gone since it was listed
    throw err;
  }
  const entries: { key: string; path: string; size: number; mtimeMs: number; folder: string | undefined }[] = [];
  for (const d of dirents) {
    if (d.name.charCodeAt(0) === 46) continue; // '.'
    const path = `${dir}/${d.name}`;
    if (d.isDirectory()) {
      entries.push({ key: `${d.name}/`, path, size: 0, mtimeMs: 0, folder: '' });
      continue;
    }
    if (!d.isFile() && !d.isSymbolicLink()) continue;
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue; // a broken link, or gone
    if (st.isDirectory()) entries.push({ key: `${d.name}/`, path, size: 0, mtimeMs: 0, folder: `${st.dev}:${st.ino}` });
    else if (st.isFile()) entries.push({ key: d.name, path, size: st.size, mtimeMs: st.mtimeMs, folder: undefined });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const e of entries) {
    if (e.folder === undefined) {
      onFile(e.path, e.size, e.mtimeMs);
      continue;
    }
    let id = e.folder;
    if (!id) {
      const st = statSync(e.path, { throwIfNoEntry: false });
      if (!st) continue;
      id = `${st.dev}:${st.ino}`;
    }
    if (ancestors.includes(id)) continue; // a link back up the tree
    ancestors.push(id);
    walk(e.path, ancestors, onFile);
    ancestors.pop();
  }
}
