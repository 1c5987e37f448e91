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

/** An entry of a folder between its listing and its turn (in order): a file, or a folder (with its `dev:ino` once stat'd). */
const FILE = 0;
const FOLDER = 1;

function walk(dir: string, ancestors: string[], onFile: OnFile): void {
  let dirents: Dirent[];
  try {
    dirents = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // gone since it was listed
    throw err;
  }
  // Each entry's sort key and kind first (only a link is stat'd now: it may be a folder), then in
  // order each file is stat'd and handed on at once. A file's stats die young: the heap's young
  // generation (kept small by bin/batchup.js) is collected ~4x less often than when a folder's
  // stats were all held until it was sorted, and each collection moves little.
  const keys: string[] = [];
  const kinds: number[] = [];
  const names: string[] = [];
  const ids: string[] = [];
  for (const d of dirents) {
    if (d.name.charCodeAt(0) === 46) continue; // '.'
    let kind: number;
    let id = '';
    if (d.isDirectory()) kind = FOLDER;
    else if (d.isFile()) kind = FILE;
    else if (d.isSymbolicLink()) {
      const st = statSync(`${dir}/${d.name}`, { throwIfNoEntry: false });
      if (st?.isDirectory()) {
        kind = FOLDER;
        id = `${st.dev}:${st.ino}`;
      } else if (st?.isFile()) kind = FILE;
      else continue; // a broken link, gone, or neither
    } else continue;
    keys.push(kind === FOLDER ? `${d.name}/` : d.name);
    kinds.push(kind);
    ids.push(id);
    names.push(d.name);
  }
  dirents = [];
  // Keys are unique (a file's name holds no '/'), in code-unit order as `<` compares them.
  const order = Array.from(keys.keys()).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
  for (const i of order) {
    const path = `${dir}/${names[i]}`;
    let id = ids[i]!;
    if (kinds[i] === FILE) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isFile()) onFile(path, st.size, st.mtimeMs);
      if (!st?.isDirectory()) continue;
      id = `${st.dev}:${st.ino}`; // a file then, a folder now: walked where it was listed
    }
    if (!id) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      id = `${st.dev}:${st.ino}`;
    }
    if (ancestors.includes(id)) continue; // a link back up the tree
    ancestors.push(id);
    walk(path, ancestors, onFile);
    ancestors.pop();
  }
}
