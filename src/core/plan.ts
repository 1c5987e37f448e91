/** Planning helpers shared by providers: even splits, deterministic batch ids, the batch record. */
import { createHash } from 'node:crypto';
import type { BatchPlan } from './provider.js';
import type { Item } from './types.js';

/** Split into the fewest groups of at most `max`, as even as possible (650/300 → 217, 217, 216). */
export function splitEvenly<T>(items: T[], max: number): T[][] {
  if (!items.length) return [];
  const groups = Math.ceil(items.length / max);
  const base = Math.floor(items.length / groups);
  const extra = items.length % groups;
  const out: T[][] = [];
  let at = 0;
  for (let g = 0; g < groups; g++) {
    const n = base + (g < extra ? 1 : 0);
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

/**
 * A batch id derived from what the batch holds (source, size, mtime, name), so a rerun of the same
 * command recognises a batch it already submitted (a lost response, a crash); from how often
 * each input was batched before, so a deliberate re-upload gets a new id; and from the state's own
 * salt, so an upload with another manifest (another state) never finds this one's batches.
 */
export function derivedBatchId(items: Item[], mode: string, salt = ''): string {
  const h = createHash('sha256').update(`${salt}\0${mode}\0`);
  for (const it of items) h.update(`${it.source}\0${it.size ?? ''}\0${it.mtimeMs ?? ''}\0${it.name}\0${it.generation ?? 0}\n`);
  return `bu-${h.digest('hex').slice(0, 20)}`;
}

/** Batch ids for `count` batches: the user's id as is for one, `<id>-<n>` for several. */
export function batchIds(count: number, userId: string | undefined, derive: (i: number) => string): string[] {
  return Array.from({ length: count }, (_, i) => (userId ? (count === 1 ? userId : `${userId}-${i + 1}`) : derive(i)));
}

/** Images a batch yields: a ZIP's accepted images each count, anything else counts once. */
const outputsOf = (it: Item) => (it.format === 'zip' ? (it.zipEntries?.length ?? 0) : 1);

/** A planned batch with its counts derived from its items (the one place they are computed). */
export function planBatch(items: Item[], o: { batchId: string; mode: string; reason: string; resumed?: boolean }): BatchPlan {
  return {
    batchId: o.batchId,
    mode: o.mode,
    reason: o.reason,
    files: items.length,
    images: items.reduce((n, it) => n + outputsOf(it), 0),
    bytes: items.reduce((n, it) => n + (it.size ?? 0), 0),
    sources: items.map((it) => it.source),
    items,
    ...(o.resumed ? { resumed: true } : {}),
  };
}
