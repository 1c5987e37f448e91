/**
 * scan: turn what the user typed (files, folders, globs, URL lists, earlier manifests) into a
 * stable, de-duplicated list of candidates. Only stats files; never reads their content.
 * A path that does not exist becomes a rejection, not a crash.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { resolve, isAbsolute } from 'node:path';
import type { Candidate, Rejection } from './types.js';
import { readManifest } from './manifest.js';
import { inputOf } from './zip-source.js';
import type { UploadOptions } from './options.js';
import { walkFolder } from './walk.js';

export type ScanInput = Pick<UploadOptions, 'paths' | 'urlsFile' | 'fromManifests' | 'include' | 'exclude' | 'ignoreFile' | 'cwd' | 'stdin'>;

export interface ScanResult {
  candidates: CandidateList;
  rejections: Rejection[];
}

/**
 * Scanned inputs in scan order: local files as columns (path, size, mtime: no object per file
 * while a million wait to be validated), then URLs and storage folders. `at(i)` makes the i-th
 * candidate when it is needed. A filtered list (a shard) keeps each input's scan order.
 */
export class CandidateList {
  constructor(
    private readonly paths: readonly string[],
    private readonly sizes: readonly number[],
    private readonly mtimes: readonly number[],
    private readonly others: readonly Candidate[],
    /** Scan order of each file (when filtered; else its position). */
    private readonly orders?: readonly number[],
  ) {}

  get length(): number {
    return this.paths.length + this.others.length;
  }

  source(i: number): string {
    return i < this.paths.length ? this.paths[i]! : this.others[i - this.paths.length]!.source;
  }

  kind(i: number): Candidate['kind'] {
    return i < this.paths.length ? 'file' : this.others[i - this.paths.length]!.kind;
  }

  at(i: number): Candidate {
    if (i >= this.paths.length) return this.others[i - this.paths.length]!;
    const path = this.paths[i]!;
    return { source: path, kind: 'file', path, size: this.sizes[i]!, mtimeMs: this.mtimes[i]!, order: this.orders ? this.orders[i]! : i };
  }

  map<T>(f: (c: Candidate, i: number) => T): T[] {
    return Array.from({ length: this.length }, (_, i) => f(this.at(i), i));
  }

  /**
   * A digest of every input in order — kind, source and, for a file, its size and mtime — so a
   * rerun can tell its inputs are the ones an earlier run saw without keeping their list (NUL
   * separates fields: no path or URL holds one). Hashed in ~64 KB pieces, not a call a file.
   */
  digest(): string {
    const h = createHash('sha256');
    let text = '';
    for (let i = 0; i < this.paths.length; i++) {
      text += `file\0${this.paths[i]}\0${this.sizes[i]}\0${this.mtimes[i]}\0`;
      if (text.length >= 1 << 16) {
        h.update(text);
        text = '';
      }
    }
    for (const c of this.others) text += `${c.kind}\0${c.source}\0`;
    return h.update(text).digest('hex');
  }

  /** The inputs `keep` says yes to, each with its scan order. */
  filter(keep: (source: string, kind: Candidate['kind']) => boolean): CandidateList {
    const paths: string[] = [];
    const sizes: number[] = [];
    const mtimes: number[] = [];
    const orders: number[] = [];
    for (let i = 0; i < this.paths.length; i++) {
      if (!keep(this.paths[i]!, 'file')) continue;
      paths.push(this.paths[i]!);
      sizes.push(this.sizes[i]!);
      mtimes.push(this.mtimes[i]!);
      orders.push(this.orders ? this.orders[i]! : i);
    }
    return new CandidateList(
      paths,
      sizes,
      mtimes,
      this.others.filter((c) => keep(c.source, c.kind)),
      orders,
    );
  }
}

export async function scan(input: ScanInput): Promise<ScanResult> {
  // Files as three columns (no object a file): in code-point order when one folder was walked.
  const paths: string[] = [];
  const sizes: number[] = [];
  const mtimes: number[] = [];
  const addFile = (path: string, size: number, mtimeMs: number) => {
    paths.push(path);
    sizes.push(size);
    mtimes.push(mtimeMs);
  };
  const urls = new Set<string>();
  const rejections: Rejection[] = [];
  const missing = (source: string, why: string) => rejections.push({ source, rule: 'unreadable', message: `${source}: ${why} (unreadable)` });

  const globOpts = {
    cwd: input.cwd,
    absolute: true,
    onlyFiles: true,
    dot: false,
    ignore: input.exclude ?? [],
    ignoreFiles: input.ignoreFile ? [input.ignoreFile] : undefined,
    followSymbolicLinks: true,
  } as const;
  // Paths only from the walk, then one stat each kept as two numbers: the walker's own stats
  // objects cost ~1.6 KB a file and outlived the scan (measured: 164 MB retained for 100k files).
  const addEntries = (found: string[]) => {
    for (const p of found) {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isFile()) addFile(p, st.size, st.mtimeMs);
    }
  };
  const plainFolder = !input.include?.length && !input.exclude?.length && !input.ignoreFile;

  const storages = new Set<string>();
  for (const raw of input.paths) {
    if (/^https?:\/\//i.test(raw)) {
      urls.add(raw);
      continue;
    }
    if (/^storage:\/\//i.test(raw)) {
      storages.add(raw);
      continue;
    }
    const abs = isAbsolute(raw) ? raw : resolve(input.cwd, raw);
    const st = await stat(abs).catch(() => undefined);
    if (st?.isFile()) {
      addFile(abs, st.size, st.mtimeMs);
    } else if (st?.isDirectory() && plainFolder) {
      walkFolder(abs, addFile);
    } else {
      // globby (~300 KB with its matchers, ~50 ms to load) only for globs and filtered folders.
      const { globby, isDynamicPattern } = await import('globby');
      if (st?.isDirectory()) {
        addEntries(await globby(input.include?.length ? input.include : ['**/*'], { ...globOpts, cwd: abs }));
      } else if (isDynamicPattern(raw)) {
        const found = await globby(raw, globOpts);
        if (!found.length) missing(raw, 'the pattern matched no files');
        addEntries(found);
      } else {
        missing(abs, st ? 'not a regular file or folder' : 'no such file or folder');
      }
    }
  }

  if (input.urlsFile) {
    const text = input.urlsFile === '-' ? await readStream(input.stdin ?? process.stdin) : await readFile(resolve(input.cwd, input.urlsFile), 'utf8');
    for (const url of urlsOf(text)) urls.add(url);
  }

  if (input.fromManifests?.length) {
    const known = new Set(paths);
    for (const m of input.fromManifests) {
      const manifest = await readManifest(resolve(input.cwd, m));
      for (const entry of manifest.entries) {
        const source = inputOf(entry.source);
        if (/^https?:\/\//i.test(source)) urls.add(source);
        else if (!known.has(source)) {
          known.add(source);
          const st = await stat(source).catch(() => undefined);
          if (st?.isFile()) addFile(source, st.size, st.mtimeMs);
          else missing(source, `listed in ${m} but no longer exists`);
        }
      }
    }
  }

  // Stable order: files by absolute path (code-point order), each once, then URLs, then storage
  // folders, in the order given. One folder's walk comes in that order already.
  let inOrder = true;
  for (let i = 1; i < paths.length && inOrder; i++) inOrder = paths[i - 1]! < paths[i]!;
  let files = { paths, sizes, mtimes };
  if (!inOrder) {
    const order = Array.from(paths.keys()).sort((a, b) => byCodePoint(paths[a]!, paths[b]!) || a - b);
    files = { paths: [], sizes: [], mtimes: [] };
    for (const [k, i] of order.entries()) {
      if (k > 0 && paths[order[k - 1]!] === paths[i]) continue; // named twice
      files.paths.push(paths[i]!);
      files.sizes.push(sizes[i]!);
      files.mtimes.push(mtimes[i]!);
    }
  }
  const others: Candidate[] = [];
  let order = files.paths.length;
  for (const url of urls) others.push({ source: url, kind: 'url', url, order: order++ });
  for (const uri of storages) others.push({ source: uri, kind: 'storage', order: order++ });
  return { candidates: new CandidateList(files.paths, files.sizes, files.mtimes, others), rejections };
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The URLs of a URL list: one per line, blank lines and `#` comments ignored. A batchup manifest
 * (any provider's) is a URL list too: its uploaded entries' URLs, in its order — how one run's
 * outputs become the next one's inputs without jq.
 */
export function urlsOf(text: string): string[] {
  if (/^\s*\{/.test(text)) {
    let m: { entries?: { status?: string; url?: unknown }[] } | undefined;
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      m = undefined;
    }
    if (m && Array.isArray(m.entries)) {
      return m.entries
        .filter((e) => (e.status === 'uploaded' || e.status === 'skipped') && typeof e.url === 'string' && /^https?:\/\//i.test(e.url))
        .map((e) => e.url as string);
    }
  }
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const url = line.replace(/(^|\s)#.*$/, '').trim();
    if (url) out.push(url);
  }
  return out;
}
