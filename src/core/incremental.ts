/**
 * Incremental runs: decide from the journal, before any file is read, whether an input can be
 * skipped. Unchanged = same size and mtime (a stat), or — when only the mtime moved — the same
 * sha256 (one read); and done with the same provider parameters. A skipped input keeps its
 * earlier entries, unless their URLs expire within `refreshBeforeMs`: then it is uploaded again.
 * Without `refreshBeforeMs` the window is 3 days, or half the URL's lifetime when that is shorter
 * (a one-day temporary URL is refreshed in its second half, not on every run).
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { BatchupError } from './errors.js';
import type { JournalState } from './journal.js';
import type { ManifestEntry } from './manifest.js';
import { DEFAULTS } from './options.js';
import type { Candidate } from './types.js';

export type Decision =
  | { skip: true; entries: ManifestEntry[]; rehashed?: { sha256: string } }
  | { skip: false; reason: 'new' | 'changed' | 'expiring' | 'not-uploaded' | 'forced' | 'params-changed' };

export interface DecideOptions {
  force: boolean;
  /** The provider's fingerprint of this run's parameters: inputs done under others are done again. */
  params?: string;
  /** Refresh URLs expiring within this long (--refresh-before); default: see {@link refreshWindow}. */
  refreshBeforeMs?: number;
  now: number;
  hashFile?: (path: string) => Promise<string>;
}

export async function decide(c: Candidate, state: JournalState, o: DecideOptions): Promise<Decision> {
  const prev = state.entries.get(c.source);
  if (!prev?.length) return { skip: false, reason: 'new' };
  if (o.force) return { skip: false, reason: 'forced' };
  if (!prev.every((e) => e.status === 'uploaded' || e.status === 'skipped')) return { skip: false, reason: 'not-uploaded' };
  if ((state.params.get(c.source) ?? '') !== (o.params ?? '')) return { skip: false, reason: 'params-changed' };
  const expiry = Math.min(...prev.map((e) => (e.expiresAt ? Date.parse(e.expiresAt) : Number.POSITIVE_INFINITY)));
  if (expiry - o.now < (o.refreshBeforeMs ?? refreshWindow(prev))) return { skip: false, reason: 'expiring' };
  const carried = prev.map((e) => ({ ...e, status: 'skipped' as const }));
  if (c.kind !== 'file') return { skip: true, entries: carried };

  const fp = state.files.get(c.source);
  if (!fp || fp.size !== c.size) return { skip: false, reason: 'changed' };
  if (fp.mtimeMs === c.mtimeMs) return { skip: true, entries: carried };
  const sha256 = await (o.hashFile ?? sha256File)(c.path!);
  if (sha256 !== fp.sha256) return { skip: false, reason: 'changed' };
  return { skip: true, entries: carried.map((e) => ({ ...e, mtimeMs: c.mtimeMs })), rehashed: { sha256 } };
}

/** The default refresh window of entries: 3 days, capped at half the shortest lifetime (finished → expires) among them. */
export function refreshWindow(entries: readonly ManifestEntry[]): number {
  let window: number = DEFAULTS.refreshBeforeMs;
  for (const e of entries) {
    const life = e.expiresAt && e.finishedAt ? Date.parse(e.expiresAt) - Date.parse(e.finishedAt) : Number.NaN;
    if (life > 0) window = Math.min(window, life / 2);
  }
  return window;
}

/** sha256 of a whole file; with `size`, a file that no longer has it is an error. */
export async function sha256File(path: string, opts: { size?: number; signal?: AbortSignal } = {}): Promise<string> {
  const h = createHash('sha256');
  let read = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal })) {
    read += (chunk as Buffer).length;
    h.update(chunk as Buffer);
  }
  if (opts.size !== undefined && read !== opts.size) {
    throw new BatchupError('VALIDATION', `${path}: file changed (expected ${opts.size} bytes, read ${read})`, { retryable: false });
  }
  return h.digest('hex');
}
