/**
 * SPEC files → render batches (the provider's `expand`). A spec holds one `POST /v1/batches`
 * body, a JSON array of them, or JSON lines of them; a `.csv` catalog of tracks (artist, title,
 * audio, artwork[, ref]) becomes one batch per row with the renders of `--template`.
 *
 * Each batch becomes an item with source `<spec>#<ref>`: the spec's own `ref`, or one derived
 * from the body's content (`bu-…`), so inserting a batch into a spec does not make the next
 * run take another batch for it, and the vendor's records name every batch. Everything the
 * contract can say without the network is checked here (fields, enums, ranges, local assets
 * that have nowhere to be published); a batch with problems becomes one rejection naming the
 * spec, the batch (position and ref) and every field.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import type { CheckContext } from '../../core/provider.js';
import type { Candidate, Item, RejectRule, Rejection } from '../../core/types.js';
import { ASSET_FIELDS, type AssetKind, checkBody, isHttpUrl } from './contract.js';
import { parseCsv } from './csv.js';
import type { BlurbOptions } from './options.js';

const MAX_SPEC_BYTES = 64 * 1024 * 1024;

export interface AssetRef {
  /** Where in the body: `media.audioUrl`. */
  field: string;
  path: readonly string[];
  kind: AssetKind;
  /** As the spec wrote it. */
  value: string;
  /** Absolute path, when it is a local file. */
  local?: string;
}

/** What a batch item carries to its run. */
export interface SpecPayload {
  spec: string;
  /** `batch 2`, `line 3`, `row 4`. */
  position: string;
  ref: string;
  body: Record<string, unknown>;
  assets: AssetRef[];
}

export interface Problem {
  field: string;
  rule: RejectRule;
  detail: string;
}

/**
 * Problems of one batch as one message: `batch 2 (ref x): field: what (rule); field: what`. The
 * last problem's rule is the batch's (core appends it, as for every rejection).
 */
export function describeProblems(position: string, ref: string | undefined, problems: readonly Problem[]): { rule: RejectRule; detail: string } {
  const parts = problems.map((p, i) => `${p.field}: ${p.detail}${i < problems.length - 1 ? ` (${p.rule})` : ''}`);
  return { rule: problems[problems.length - 1]!.rule, detail: `${position}${ref ? ` (ref ${ref})` : ''}: ${parts.join('; ')}` };
}

/** JSON with sorted keys: the same content always hashes the same. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The batch's content without what a run adds (ref, webhookUrl, dryRun). */
export function content(body: Record<string, unknown>): string {
  const { ref: _r, webhookUrl: _w, dryRun: _d, ...rest } = body;
  return canonical(rest);
}

/** A ref from the content, for a batch whose spec names none. */
export const derivedRef = (body: Record<string, unknown>) => `bu-${sha(content(body)).slice(0, 16)}`;

const getAt = (body: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), body);

/** JSON (an object or an array of them) or JSON lines. Throws an Error saying where it is not. */
function jsonBodies(text: string): { position: string; body: unknown }[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.map((body, i) => ({ position: `batch ${i + 1}`, body })) : [{ position: 'batch 1', body: v }];
  } catch (whole) {
    const lines = text.split(/\r?\n/);
    if (lines.filter((l) => l.trim()).length < 2) throw whole;
    const out: { position: string; body: unknown }[] = [];
    lines.forEach((l, i) => {
      if (!l.trim()) return;
      try {
        out.push({ position: `line ${i + 1}`, body: JSON.parse(l) });
      } catch (err) {
        throw new Error(`line ${i + 1}: ${(err as Error).message}`);
      }
    });
    return out;
  }
}

/** --template, read once per run (per options object). */
const templates = new WeakMap<BlurbOptions, Promise<Record<string, unknown>>>();

function template(o: BlurbOptions, cwd: string): Promise<Record<string, unknown>> {
  let t = templates.get(o);
  if (!t) {
    const file = resolve(cwd, o.template!);
    t = readFile(file, 'utf8').then(
      (text) => {
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (err) {
          throw usageError(`--template ${o.template}: not JSON (${(err as Error).message})`);
        }
        if (Array.isArray(v)) return { renders: v };
        if (!v || typeof v !== 'object' || !Array.isArray((v as Record<string, unknown>).renders)) {
          throw usageError(`--template ${o.template}: give the renders (a JSON array, or an object with "renders" and other batch fields)`);
        }
        return v as Record<string, unknown>;
      },
      (err: NodeJS.ErrnoException) => {
        throw usageError(`--template ${o.template}: cannot be read (${err.code ?? err.message})`);
      },
    );
    templates.set(o, t);
  }
  return t;
}

const REQUIRED_COLUMNS = ['artist', 'title', 'audio'];

/** `{{column}}` in the template's strings → the row's values; unknown columns are reported. */
function fill(v: unknown, fields: Record<string, string>, missing: Set<string>): unknown {
  if (typeof v === 'string')
    return v.replace(/\{\{\s*([\w -]+?)\s*\}\}/g, (_, name: string) => {
      const k = name.toLowerCase();
      if (!(k in fields)) missing.add(name);
      return fields[k] ?? '';
    });
  if (Array.isArray(v)) return v.map((x) => fill(x, fields, missing));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, fields, missing)]));
  return v;
}

async function csvBodies(text: string, o: BlurbOptions, cwd: string): Promise<{ position: string; body: unknown; problems: Problem[] }[]> {
  if (!o.template) throw new Error('a CSV catalog needs --template FILE (the renders to make for each track)');
  const { header, rows } = parseCsv(text);
  const absent = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (absent.length)
    throw new Error(`the CSV has no ${absent.join(', ')} column (it needs artist, title, audio; artwork and ref are optional; has ${header.join(', ')})`);
  const t = await template(o, cwd);
  return rows.map(({ line, fields }) => {
    const missing = new Set<string>();
    const base = fill(t, fields, missing) as Record<string, unknown>;
    const artwork = fields.artwork ? { artworkUrl: fields.artwork } : {};
    const body = {
      ...base,
      ...(fields.ref ? { ref: fields.ref } : {}),
      artist: { ...(base.artist as object), name: fields.artist, ...artwork },
      media: { ...(base.media as object), name: fields.title, audioUrl: fields.audio, ...artwork },
    };
    const problems = [...missing].map((m): Problem => ({ field: '--template', rule: 'invalid-spec', detail: `placeholder {{${m}}} names no CSV column` }));
    return { position: `row ${line}`, body, problems };
  });
}

/** Where an asset field points: an http(s) URL, or a local file (relative to the spec). */
function assetProblem(value: string, o: BlurbOptions): string | undefined {
  if (isHttpUrl(value)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !/^[a-z]:[\\/]/i.test(value)) return 'only http(s) URLs or local paths can be assets';
  if (!o.assetBaseUrl && !o.sandboxAssets) {
    return 'is a local file, and blurb fetches assets by URL: publish the spec folder and pass --asset-base-url URL, or run with --sandbox';
  }
  return undefined;
}

export async function expandSpec(c: Candidate, ctx: CheckContext<BlurbOptions>): Promise<{ items: Item[]; rejections: Rejection[] }> {
  const path = c.path ?? c.source;
  const whole = (rule: RejectRule, detail: string): { items: Item[]; rejections: Rejection[] } => ({
    items: [],
    rejections: [{ source: c.source, rule, message: `${c.source}: ${detail} (${rule})`, size: c.size, mtimeMs: c.mtimeMs }],
  });
  if ((c.size ?? 0) > MAX_SPEC_BYTES) return whole('too-large', `a spec file holds at most ${MAX_SPEC_BYTES / 1024 / 1024} MiB`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return whole('unreadable', `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let found: { position: string; body: unknown; problems?: Problem[] }[];
  try {
    found = extname(path).toLowerCase() === '.csv' ? await csvBodies(text, ctx.options, ctx.cwd) : jsonBodies(text);
  } catch (err) {
    if ((err as { code?: string }).code === 'USAGE') throw err;
    return whole('invalid-spec', `not a render spec (JSON, JSON lines, or CSV with --template): ${(err as Error).message}`);
  }
  if (!found.length) return whole('invalid-spec', 'holds no batch');

  const items: Item[] = [];
  const rejections: Rejection[] = [];
  const refs = new Map<string, string>();
  for (const { position, body, problems: early } of found) {
    const problems: Problem[] = [...(early ?? [])];
    for (const p of checkBody(body, { asset: (v) => assetProblem(v, ctx.options) })) {
      problems.push({ field: p.field, rule: p.rule === 'url' ? 'bad-url' : 'invalid-spec', detail: p.message });
    }
    const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    if (b.dryRun === true) problems.push({ field: 'dryRun', rule: 'invalid-spec', detail: 'a spec does not send dry runs (use --dry-run)' });
    const ref = typeof b.ref === 'string' && b.ref.trim() ? b.ref.trim() : derivedRef(b);
    if (ref.includes('!/')) problems.push({ field: 'ref', rule: 'invalid-spec', detail: "a ref cannot contain '!/'" });
    const twin = refs.get(ref);
    if (twin) problems.push({ field: 'ref', rule: 'invalid-spec', detail: `'${ref}' is also the ref of ${twin} of this spec` });
    else refs.set(ref, position);
    const source = `${c.source}#${ref}`;
    if (problems.length) {
      const { rule, detail } = describeProblems(position, ref, problems);
      rejections.push({ source, rule, message: `${source}: ${detail} (${rule})` });
      continue;
    }
    const assets: AssetRef[] = [];
    for (const f of ASSET_FIELDS) {
      const v = getAt(b, f.path);
      if (typeof v !== 'string') continue;
      const local = isHttpUrl(v) ? undefined : isAbsolute(v) ? v : resolve(dirname(path), v);
      assets.push({ field: f.path.join('.'), path: f.path, kind: f.kind, value: v, ...(local ? { local } : {}) });
    }
    const payload: SpecPayload = { spec: path, position, ref, body: { ...b, ref }, assets };
    items.push({ source, kind: 'url', order: 0, name: ref, payload });
  }
  // Orders between this spec's and the next one's: rejections first (core numbers them), then the batches.
  const n = rejections.length + items.length + 1;
  items.forEach((it, i) => {
    it.order = c.order + (rejections.length + i + 1) / n;
  });
  return { items, rejections };
}

export const payloadOf = (it: Item) => it.payload as SpecPayload;
