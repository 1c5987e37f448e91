/**
 * `--download DIR`: every output an entry points at is saved into DIR once it is done — the name
 * from the input, the extension from the output's real format (sniffed from its bytes, else the
 * URL's), never overwriting another output of the run (`-2`, `-3` … are added). Each is written to
 * a temp file while hashed and renamed into place, so DIR never holds half a file; the entry gets
 * `download: {path, sha256, size}`. A URL that is not a download link (a bucket URI) is skipped
 * with a note. Outputs are fetched without credentials (they live on other origins).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { toBatchupError } from './errors.js';
import { httpError, type Http } from './http.js';
import type { ManifestEntry } from './manifest.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { BufferSource } from './validate/source.js';
import { sniff } from './validate/sniff.js';
import { inputOf } from './zip-source.js';

export interface Downloaded {
  path: string;
  sha256: string;
  size: number;
}

export interface DownloadOptions {
  http: Http;
  dir: string;
  signal?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

const HEAD = 64 * 1024;

/** The name an output gets: the input's stem, and the extension of what it really is. */
function stemOf(e: ManifestEntry): string {
  const name = e.name ?? basename(inputOf(e.source).split('#')[0]!);
  const ext = extname(name);
  return (ext ? name.slice(0, -ext.length) : name).replace(/[\\/:*?"<>|\u0000-\u001f]/g, '_') || 'output';
}

export class Downloader {
  /** Names taken in DIR by this run (lower-cased: some file systems ignore case). */
  private readonly taken = new Set<string>();

  constructor(private readonly o: DownloadOptions) {}

  /** Whether an entry has an output to fetch (or one already saved, still on disk). */
  static wants(e: ManifestEntry): boolean {
    return (e.status === 'uploaded' || e.status === 'skipped') && typeof e.url === 'string';
  }

  /**
   * Save `e.url`; returns the entry with its `download` (or a note why not). An output saved by an
   * earlier run that is still on disk with its size is kept.
   */
  async save(e: ManifestEntry): Promise<{ entry: ManifestEntry; note?: string; error?: string }> {
    const url = e.url!;
    if (!/^https?:\/\//i.test(url)) return { entry: e, note: `${url} is not a download link (a bucket URI): not downloaded` };
    const prior = e.download as Downloaded | undefined;
    if (
      prior?.path &&
      (await stat(prior.path).then(
        (s) => s.size === prior.size,
        () => false,
      ))
    ) {
      this.taken.add(basename(prior.path).toLowerCase());
      return { entry: e };
    }
    try {
      const got = await withRetry(() => this.fetch(url, stemOf(e)), { policy: this.o.retry, signal: this.o.signal });
      return { entry: { ...e, download: got } };
    } catch (raw) {
      const err = toBatchupError(raw);
      if (err.code === 'INTERRUPTED') throw err;
      return { entry: e, error: `${e.source}: download of ${url} failed: ${err.message}` };
    }
  }

  private async fetch(url: string, stem: string): Promise<Downloaded> {
    await mkdir(this.o.dir, { recursive: true });
    const res = await this.o.http.open({ method: 'GET', url, signal: this.o.signal });
    if (res.status !== 200) {
      res.body.destroy();
      throw httpError(res, `HTTP ${res.status}`);
    }
    const tmp = join(this.o.dir, `.${stem}.${process.pid}.${Date.now()}.part`);
    const hash = createHash('sha256');
    let size = 0;
    let head = Buffer.alloc(0);
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        if (head.length < HEAD) head = Buffer.concat([head, chunk.subarray(0, HEAD - head.length)]);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res.body, tap, createWriteStream(tmp));
      const real = head.length ? (await sniff(head, new BufferSource(head))).format : undefined;
      const ext = real ?? (extname(new URL(url).pathname).slice(1).toLowerCase() || 'bin');
      const path = join(this.o.dir, await this.unique(stem, ext));
      await rename(tmp, path);
      return { path, sha256: hash.digest('hex'), size };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** A name no other output of this run took and no file in DIR has. */
  private async unique(stem: string, ext: string): Promise<string> {
    for (let n = 1; ; n++) {
      const name = `${stem}${n === 1 ? '' : `-${n}`}.${ext}`;
      if (this.taken.has(name.toLowerCase())) continue;
      if (
        await stat(join(this.o.dir, name)).then(
          () => true,
          () => false,
        )
      )
        continue;
      this.taken.add(name.toLowerCase());
      return name;
    }
  }
}
