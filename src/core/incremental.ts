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
import { type InputRecord, type JournalState, type ResultGroup, entriesOf } from './journal-state.js';
import type { ManifestEntry } from './manifest.js';
import { DEFAULTS } from './options.js';
import type { Candidate } from './types.js';

/** A skip says how many entries the input has (the journal holds them; decoded only when shown). */
export type Decision =
  | { skip: true; entries: number; rehashed?: { sha256: string } }
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
  const d = decideByStat(c, state, o);
  if (d !== 'hash') return d;
  const r = state.inputs.get(c.source)!;
  const sha256 = await (o.hashFile ?? sha256File)(c.path!);
  if (sha256 !== r.sha256) return { skip: false, reason: 'changed' };
  return { skip: true, entries: entryCount(r), rehashed: { sha256 } };
}

/**
 * The decision when a stat is enough (no read, no promise, no entry decoded: a rerun over
 * 100,000 unchanged files decides each in microseconds); `'hash'` when only the content can tell
 * (the mtime moved).
 */
export function decideByStat(c: Candidate, state: JournalState, o: DecideOptions): Decision | 'hash' {
  const r = state.inputs.get(c.source);
  if (!r?.group) return { skip: false, reason: 'new' };
  if (o.force) return { skip: false, reason: 'forced' };
  const v = verdict(c.source, r);
  if (!v.done) return { skip: false, reason: 'not-uploaded' };
  if (r.group.params !== (o.params ?? '')) return { skip: false, reason: 'params-changed' };
  if (v.expiry - o.now < (o.refreshBeforeMs ?? v.window)) return { skip: false, reason: 'expiring' };
  if (c.kind === 'file' && (r.size !== c.size || r.size < 0)) return { skip: false, reason: 'changed' };
  if (c.kind === 'file' && r.mtimeMs !== c.mtimeMs) return 'hash';
  return { skip: true, entries: entryCount(r) };
}

/**
 * For the rerun index: when a later run would stop skipping this input on a stat — its earliest
 * URL expiry and its refresh window (see {@link refreshWindow}) — or undefined when a run would
 * not skip it on a stat whatever the time (not done, other parameters, size or mtime moved).
 */
export function skipHorizon(c: Candidate, state: JournalState, params: string): { expiry: number; window: number } | undefined {
  const d = decideByStat(c, state, { force: false, params, now: Number.NEGATIVE_INFINITY });
  if (d === 'hash' || !d.skip) return undefined;
  const { expiry, window } = verdict(c.source, state.inputs.get(c.source)!);
  return { expiry, window };
}

const entryCount = (r: InputRecord) => (Array.isArray(r.diff) ? r.diff.length : 1);

/** What an input's entries say for a rerun: all uploaded (or skipped), the earliest expiry, the refresh window. */
interface Verdict {
  done: boolean;
  expiry: number;
  window: number;
}

function verdictOf(entries: readonly Partial<ManifestEntry>[]): Verdict {
  let expiry = Number.POSITIVE_INFINITY;
  for (const e of entries) if (e.expiresAt) expiry = Math.min(expiry, Date.parse(e.expiresAt));
  return { done: entries.every((e) => e.status === 'uploaded' || e.status === 'skipped'), expiry, window: refreshWindow(entries) };
}

const OWN = ['status', 'expiresAt', 'finishedAt'];
const verdicts = new WeakMap<ResultGroup, Verdict>();

/** From the fields its record shares when the input's entries have none of their own (the usual case: once per batch), else from its entries. */
function verdict(source: string, r: InputRecord): Verdict {
  const group = r.group!;
  const diffs = Array.isArray(r.diff) ? r.diff : [r.diff ?? {}];
  if (diffs.length && diffs.every((d) => OWN.every((k) => !(k in d)))) {
    let v = verdicts.get(group);
    if (!v) verdicts.set(group, (v = verdictOf([group.common as Partial<ManifestEntry>])));
    return v;
  }
  return verdictOf(entriesOf(source, r)!);
}

/** The default refresh window of entries: 3 days, capped at half the shortest lifetime (finished → expires) among them. */
export function refreshWindow(entries: readonly Partial<ManifestEntry>[]): number {
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
