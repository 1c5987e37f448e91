/**
 * Storages as folders under `--data`: `<data>/claid/storages/<NAME>/…` is the storage NAME
 * (create a folder to connect one). The sandbox lists them as buckets (`type: s3`), reads input
 * folders from them (in path order) and writes outputs into them, reporting `object_uri` as a
 * bucket URI (contract.ts `objectUri`), not a download link.
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { type OutputObject, type StorageInfo, byPath, objectUri, parseStorageUri } from '../../../providers/claid/contract.js';

export interface StoredFile {
  /** Path under the listed folder, '/'-separated. */
  rel: string;
  path: string;
  size: number;
}

export class Storages {
  constructor(readonly root: string) {}

  async list(): Promise<StorageInfo[]> {
    await mkdir(this.root, { recursive: true });
    const names = (await readdir(this.root, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort(byPath);
    return names.map((name, i) => ({ id: i + 1, name, type: 's3', parameters: { bucket: name, folder: '' } }));
  }

  async has(name: string): Promise<boolean> {
    return (await this.list()).some((s) => s.name === name);
  }

  /** The folder or file a storage URI names (never outside its storage), or undefined. */
  pathOf(uri: string): string | undefined {
    const p = parseStorageUri(uri);
    if (!p) return undefined;
    const base = resolve(this.root, p.storage);
    const full = resolve(base, p.path);
    return full === base || full.startsWith(base + sep) ? full : undefined;
  }

  /** The files of a folder URI (with subfolders when `recursive`), or of a file URI; sorted. */
  async files(uri: string, recursive: boolean): Promise<StoredFile[]> {
    const at = this.pathOf(uri);
    if (!at) return [];
    const st = await stat(at).catch(() => undefined);
    if (!st) return [];
    if (st.isFile()) return [{ rel: at.split(sep).pop()!, path: at, size: st.size }];
    const out: StoredFile[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory() && recursive) await walk(p);
        else if (e.isFile()) out.push({ rel: relative(at, p).split(sep).join('/'), path: p, size: (await stat(p)).size });
      }
    };
    await walk(at);
    return out.sort((a, b) => byPath(a.rel, b.rel));
  }

  /** Write an output under a destination folder URI; returns the object fields of the answer. */
  async write(
    destination: string,
    rel: string,
    bytes: Buffer,
  ): Promise<Pick<OutputObject, 'object_key' | 'object_bucket' | 'object_uri' | 'claid_storage_uri'>> {
    const p = parseStorageUri(destination)!;
    const key = p.folder ? `${p.path}${rel}` : p.path;
    const file = this.pathOf(`storage://${p.storage}/${key}`);
    if (!file) throw new Error(`output path escapes the storage: ${key}`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, bytes);
    return { object_key: key, object_bucket: p.storage, object_uri: objectUri(p.storage, key), claid_storage_uri: `storage://${p.storage}/${key}` };
  }
}
