/**
 * The whole file's sha256, computed in the background as soon as the parts in front are in: a
 * frontier that re-reads them from the page cache on the hashing thread (core/hash-thread.ts), so
 * `complete` rarely waits and the HTTP thread never hashes gigabytes. A part overwritten after the
 * frontier passed it marks the hash dirty, and `complete` hashes the whole file again.
 */
import { ThreadHash } from '../../../core/hash-thread.js';
import { partSize, type Upload } from './uploads.js';

/** Moves the frontier over every leading part that is in (and not being rewritten). */
export function advanceHash(u: Upload, log: (line: string) => void): void {
  if (u.hashing || u.dirty) return;
  const ready = () => !u.dirty && u.parts.has(u.hashedParts + 1) && !u.busy.has(u.hashedParts + 1);
  if (!ready()) return;
  u.hashing = (async () => {
    while (ready()) {
      const n = u.hashedParts + 1;
      await u.hash.updateFromFile(u.dataPath, (n - 1) * u.chunkSize, partSize(u, n));
      if (u.dirty) return;
      u.hashedParts = n;
    }
  })()
    .catch((err) => {
      u.dirty = true;
      log(`hybrid: hashing ${u.uploadId} failed: ${String(err)}`);
    })
    .finally(() => {
      u.hashing = undefined;
      advanceHash(u, log);
    });
}

/** The sha256 of the assembled file (all parts in): the frontier's, or a fresh pass when it is dirty. */
export async function wholeHash(u: Upload, log: (line: string) => void): Promise<string> {
  while (u.hashing) await u.hashing;
  if (!u.dirty && u.hashedParts < u.totalChunks) {
    advanceHash(u, log);
    while (u.hashing) await u.hashing;
  }
  if (u.dirty || u.hashedParts < u.totalChunks) {
    u.hash.close();
    const full = new ThreadHash();
    try {
      await full.updateFromFile(u.dataPath, 0, u.size);
      return await full.digest();
    } finally {
      full.close();
    }
  }
  return u.hash.digest();
}
