/** Planning helpers shared by providers: even splits and deterministic batch ids. */
import { createHash } from 'node:crypto';
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
 * command recognises a batch it already submitted (a lost response, a crash); and from how often
 * each input was batched before, so a deliberate re-upload gets a new id.
 */
export function derivedBatchId(items: Item[], mode: string): string {
  const h = createHash('sha256').update(`${mode}\0`);
  for (const it of items) h.update(`${it.source}\0${it.size ?? ''}\0${it.mtimeMs ?? ''}\0${it.name}\0${it.generation ?? 0}\n`);
  return `bu-${h.digest('hex').slice(0, 20)}`;
}

/** Batch ids for `count` batches: the user's id as is for one, `<id>-<n>` for several. */
export function batchIds(count: number, userId: string | undefined, derive: (i: number) => string): string[] {
  return Array.from({ length: count }, (_, i) => (userId ? (count === 1 ? userId : `${userId}-${i + 1}`) : derive(i)));
}
