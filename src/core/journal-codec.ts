/**
 * The compact form of manifest entries in the journal (and in memory while a run holds them).
 *
 * A `res` record holds the final entries of several inputs (a batch's, or one input's): the
 * fields every entry shares are written once (`c`), and each input is a tuple
 * `[source, size, mtimeMs, sha256, diff]` — its content fingerprint (nulls when it has none)
 * and what its entry holds beyond the shared fields (an array of diffs when it has several
 * entries, a ZIP's images). Within a diff, fields that follow from the rest are left out: the
 * source (the input's own), size, mtime and sha256 (the fingerprint's), the name (the file name,
 * with `$n`), the index (the input's position in the record, with `$i`), and the URL is kept as
 * `u`, what follows the shared prefix `$u` with the sha256 in it replaced by U+0001. `null`
 * marks a field the entry does not have where one would follow. Decoding gives the entries back
 * exactly, their fields in one fixed order (the README's).
 *
 * 100,000 bach entries: ~150 B each instead of ~690 B (a manifest entry plus a `file` record).
 */
import type { ManifestEntry } from './manifest.js';

export type EntryDiff = Record<string, unknown>;
/** The fields every entry of a record shares, and `$u`/`$i`/`$n` (see above). */
export type Common = Record<string, unknown>;
/** One input of a `res` record. */
export type ResInput = [source: string, size: number | null, mtimeMs: number | null, sha256: string | null, diff: EntryDiff | EntryDiff[]];

export interface Fingerprint {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** What a run hands over to be recorded: one input's final entries and its fingerprint (when it was read whole). */
export interface InputResult {
  source: string;
  entries: readonly ManifestEntry[];
  fp?: Fingerprint;
}

/** Manifest fields in the order they are written (the README's); others follow in their own order. */
const ORDER = [
  'source',
  'status',
  'url',
  'rule',
  'code',
  'error',
  'provider',
  'name',
  'size',
  'sha256',
  'mtimeMs',
  'format',
  'batchId',
  'mode',
  'index',
  'startedAt',
  'finishedAt',
  'expiresAt',
  'id',
  'remote',
  'bytesSent',
  'download',
] as const;
const ORDERED: ReadonlySet<string> = new Set(ORDER);
const SHA_MARK = '\u0001';
const FP_KEYS = ['size', 'mtimeMs', 'sha256'] as const;

const baseName = (source: string) => source.slice(source.lastIndexOf('/') + 1);
const isPrimitive = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function commonPrefix(a: string, b: string): string {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return a.slice(0, i);
}

/** The compact record body of some inputs' entries. */
export function encodeResults(inputs: readonly InputResult[]): { c: Common; in: ResInput[] } {
  const all: { e: ManifestEntry; pos: number }[] = [];
  inputs.forEach((input, pos) => {
    for (const e of input.entries) all.push({ e, pos });
  });
  const c: Common = {};
  if (all.length > 1) {
    const first = all[0]!.e as unknown as Record<string, unknown>;
    for (const key of Object.keys(first)) {
      const v = first[key];
      if (isPrimitive(v) && all.every(({ e }) => (e as unknown as Record<string, unknown>)[key] === v)) c[key] = v;
    }
    if (!('url' in c)) {
      let prefix: string | undefined;
      for (const { e } of all) if (typeof e.url === 'string') prefix = prefix === undefined ? e.url : commonPrefix(prefix, e.url);
      // Up to a `/`: what follows (a file name with its hash) is each entry's own.
      prefix = prefix?.slice(0, prefix.lastIndexOf('/') + 1);
      if (prefix && prefix.length >= 8 && !prefix.includes(SHA_MARK)) c.$u = prefix;
    }
    if (!('index' in c) && all.some(({ e, pos }) => e.index === pos)) c.$i = 1;
    if (!('name' in c) && all.some(({ e }) => e.name !== undefined && e.name === baseName(e.source))) c.$n = 1;
  }
  const out: ResInput[] = inputs.map((input, pos) => {
    const diffs = input.entries.map((e) => diffOf(e, input, pos, c));
    const fp = input.fp;
    return [input.source, fp ? fp.size : null, fp ? fp.mtimeMs : null, fp ? fp.sha256 : null, diffs.length === 1 ? diffs[0]! : diffs];
  });
  return { c, in: out };
}

function diffOf(entry: ManifestEntry, input: InputResult, pos: number, c: Common): EntryDiff {
  const e = entry as unknown as Record<string, unknown>;
  const d: EntryDiff = {};
  const fp = input.fp as unknown as Record<string, unknown> | undefined;
  for (const key of Object.keys(e)) {
    const v = e[key];
    if (v === undefined || key in c) continue;
    switch (key) {
      case 'source':
        if (v !== input.source) d.source = v;
        break;
      case 'size':
      case 'mtimeMs':
      case 'sha256':
        if (!fp || fp[key] !== v) d[key] = v;
        break;
      case 'index':
        if (!c.$i || v !== pos) d.index = v;
        break;
      case 'name':
        if (!c.$n || v !== baseName(entry.source)) d.name = v;
        break;
      case 'url': {
        const prefix = typeof c.$u === 'string' ? c.$u : '';
        if (typeof v === 'string' && v.startsWith(prefix) && !v.includes(SHA_MARK)) {
          const rest = v.slice(prefix.length);
          d.u = entry.sha256 && rest.includes(entry.sha256) ? rest.replace(entry.sha256, SHA_MARK) : rest;
        } else d.url = v;
        break;
      }
      default:
        d[key] = v;
    }
  }
  // A field that would follow from the rest but that this entry does not have.
  const absent = (key: string) => !(key in c) && (e[key] === undefined || e[key] === null);
  if (fp) for (const key of FP_KEYS) if (absent(key) && fp[key] !== undefined) d[key] = null;
  if (c.$i && absent('index')) d.index = null;
  if (c.$n && absent('name')) d.name = null;
  return d;
}

/** The entries of one input of a record, as they were given to `encodeResults`. */
export function decodeEntries(source: string, fp: Fingerprint | undefined, c: Common, diff: EntryDiff | EntryDiff[], pos: number): ManifestEntry[] {
  if (!Array.isArray(diff)) return [decodeEntry(source, fp, c, diff, pos)];
  return diff.map((d) => decodeEntry(source, fp, c, d, pos));
}

/** How each field of a record's entries is found: 0 shared, 1 derived, 2 only ever its own. */
type Layout = { keys: string[]; kinds: number[]; values: unknown[]; extras: string[] };
const layouts = new WeakMap<Common, Layout>();
const DERIVED: ReadonlySet<string> = new Set(['source', 'size', 'mtimeMs', 'sha256', 'index', 'name', 'url']);

function layoutOf(c: Common): Layout {
  let l = layouts.get(c);
  if (l) return l;
  l = { keys: [], kinds: [], values: [], extras: [] };
  for (const key of ORDER) {
    l.keys.push(key);
    l.kinds.push(key in c ? 0 : DERIVED.has(key) ? 1 : 2);
    l.values.push(c[key]);
  }
  for (const key in c) if (!ORDERED.has(key) && key[0] !== '$') l.extras.push(key);
  layouts.set(c, l);
  return l;
}

export function decodeEntry(input: string, fp: Fingerprint | undefined, c: Common, d: EntryDiff, pos: number): ManifestEntry {
  const l = layoutOf(c);
  let own = 0; // fields of the diff seen (the rest are extras)
  const out: Record<string, unknown> = {};
  let source = input;
  const sha256 = d.sha256 !== undefined ? d.sha256 : 'sha256' in c ? c.sha256 : fp?.sha256;
  for (let i = 0; i < l.keys.length; i++) {
    const key = l.keys[i]!;
    let v = d[key];
    if (v !== undefined) own++;
    else if (l.kinds[i] === 0) v = l.values[i];
    else if (l.kinds[i] === 1)
      switch (key) {
        case 'source':
          v = source;
          break;
        case 'size':
        case 'mtimeMs':
        case 'sha256':
          v = fp?.[key];
          break;
        case 'index':
          v = c.$i ? pos : undefined;
          break;
        case 'name':
          v = c.$n ? baseName(source) : undefined;
          break;
        case 'url':
          if (typeof d.u === 'string') v = (typeof c.$u === 'string' ? c.$u : '') + (typeof sha256 === 'string' ? d.u.replace(SHA_MARK, sha256) : d.u);
          break;
      }
    if (key === 'source') source = v as string;
    if (v === undefined || v === null) continue;
    out[key] = v;
  }
  for (const key of l.extras) out[key] = c[key];
  if (own + ('u' in d ? 1 : 0) < Object.keys(d).length) for (const key in d) if (!ORDERED.has(key) && key !== 'u' && d[key] !== null) out[key] = d[key];
  return out as unknown as ManifestEntry;
}

/** An entry with its fields in the manifest's order (entries not made by `decodeEntry`). */
export function ordered(e: ManifestEntry): ManifestEntry {
  const src = e as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ORDER) if (src[key] !== undefined) out[key] = src[key];
  for (const key in src) if (!ORDERED.has(key) && src[key] !== undefined) out[key] = src[key];
  return out as unknown as ManifestEntry;
}
