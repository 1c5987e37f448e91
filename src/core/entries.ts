/**
 * Manifest entries, built the same way by every provider: the fields an input carries, then its
 * outcome. Errors always name the input: `<source>: <what happened>`.
 */
import type { ManifestEntry } from './manifest.js';
import type { Item } from './types.js';

export interface Placement {
  batchId?: string;
  mode?: string;
  /** Position in the batch as submitted. */
  index?: number;
  startedAt?: string;
}

/** What an entry of `it` says before its outcome is known (status `failed` until told otherwise). */
export function inputEntry(provider: string, it: Item, place: Placement = {}): ManifestEntry {
  const e: ManifestEntry = { source: it.source, status: 'failed', provider };
  if (it.name) e.name = it.name;
  if (it.size !== undefined) e.size = it.size;
  if (it.sha256) e.sha256 = it.sha256;
  if (it.mtimeMs !== undefined) e.mtimeMs = it.mtimeMs;
  if (it.format) e.format = it.format;
  return { ...e, ...stripUndefined(place) };
}

/** The entry failed: `code` for scripts, the message prefixed by what failed (`label`, default the source). */
export function failedEntry(e: ManifestEntry, err: { code: string; message: string }, finishedAt: string, label = e.source): ManifestEntry {
  const { url: _url, expiresAt: _x, ...rest } = e;
  return { ...rest, status: 'failed', code: err.code, error: `${label}: ${err.message}`, finishedAt };
}

/** The entry went through. */
export function uploadedEntry(e: ManifestEntry, done: Partial<ManifestEntry>, finishedAt: string): ManifestEntry {
  const { code: _c, error: _e, rule: _r, ...rest } = e;
  return { ...rest, ...stripUndefined(done), status: 'uploaded', finishedAt };
}

/** `o` without its undefined fields. Runs twice per result: a loop, not arrays of entries. */
function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
