/**
 * Working with manifests after the run: merging the manifests of shards (--shard K/N) into one,
 * and the views `batchup manifest show` and `urls` print. Pure functions over parsed manifests,
 * except `loadManifests` (files).
 *
 * Merging is strict: it refuses (every conflict listed) manifests of different providers,
 * endpoints or manifest versions, the same source with different outcomes or URLs, and — when
 * the manifests say which shard they are — a shard given twice, shards of different totals, or
 * a shard missing. Silent "last one wins" would hide a broken matrix job.
 */
import { readManifest, MANIFEST_VERSION, type Manifest, type ManifestEntry, type RunSummary } from './manifest.js';
import type { Shard } from './shard.js';

export interface LoadedManifest {
  path: string;
  manifest: Manifest;
}

export async function loadManifests(paths: readonly string[]): Promise<{ loaded: LoadedManifest[]; problems: string[] }> {
  const loaded: LoadedManifest[] = [];
  const problems: string[] = [];
  for (const path of paths) {
    try {
      loaded.push({ path, manifest: await readManifest(path) });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message.replace(`${path}: `, '')}`);
    }
  }
  return { loaded, problems };
}

const KNOWN = new Set(['version', 'tool', 'provider', 'endpoint', 'createdAt', 'updatedAt', 'summary', 'entries', 'shard', 'merged']);

/** What must agree between two entries of one source: uploaded and skipped are both "done". */
function outcome(e: ManifestEntry): string {
  if (e.status === 'uploaded' || e.status === 'skipped') return `done ${e.url ?? '(no url)'}`;
  if (e.status === 'rejected') return `rejected (${e.rule ?? '?'})`;
  return `failed (${e.code ?? '?'})`;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function mergeManifests(list: readonly LoadedManifest[], now = Date.now()): { manifest: Manifest; conflicts: string[] } {
  const conflicts: string[] = [];
  const differing = (what: string, value: (m: Manifest) => unknown) => {
    const seen = new Map<string, string[]>();
    for (const { path, manifest } of list) {
      const v = JSON.stringify(value(manifest) ?? null);
      seen.set(v, [...(seen.get(v) ?? []), path]);
    }
    if (seen.size > 1) conflicts.push(`different ${what}: ${[...seen].map(([v, ps]) => `${v} in ${ps.join(', ')}`).join('; ')}`);
  };
  differing('manifest versions', (m) => m.version);
  differing('providers', (m) => m.provider);
  differing('endpoints', (m) => m.endpoint);
  for (const { path, manifest } of list) {
    if (manifest.version !== MANIFEST_VERSION) conflicts.push(`${path}: manifest version ${manifest.version}, this batchup reads ${MANIFEST_VERSION}`);
  }
  conflicts.push(...shardConflicts(list));

  // Entries by source: the same source twice must mean the same thing.
  const bySource = new Map<string, { entry: ManifestEntry; path: string }>();
  for (const { path, manifest } of list) {
    for (const entry of manifest.entries) {
      const had = bySource.get(entry.source);
      if (!had) bySource.set(entry.source, { entry, path });
      else if (outcome(had.entry) !== outcome(entry)) {
        conflicts.push(`${entry.source}: ${outcome(had.entry)} in ${had.path}, but ${outcome(entry)} in ${path}`);
      } else if ((entry.finishedAt ?? '') > (had.entry.finishedAt ?? '')) bySource.set(entry.source, { entry, path });
    }
  }
  const entries = [...bySource.values()].map((v) => v.entry).sort((a, b) => byCodePoint(a.source, b.source));

  const extra: Record<string, unknown> = {};
  for (const { manifest } of list) {
    for (const [k, v] of Object.entries(manifest)) {
      if (KNOWN.has(k)) continue;
      if (Array.isArray(v)) extra[k] = [...((extra[k] as unknown[]) ?? []), ...v];
      else if (k in extra && JSON.stringify(extra[k]) !== JSON.stringify(v)) conflicts.push(`different "${k}" fields`);
      else extra[k] = v;
    }
  }

  const first = list[0]?.manifest;
  const times = (f: (m: Manifest) => string | undefined) =>
    list
      .map((l) => f(l.manifest))
      .filter((t): t is string => !!t)
      .sort();
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    tool: 'batchup',
    provider: first?.provider ?? '',
    endpoint: first?.endpoint,
    createdAt: times((m) => m.createdAt)[0] ?? new Date(now).toISOString(),
    updatedAt: times((m) => m.updatedAt).at(-1) ?? new Date(now).toISOString(),
    summary: mergedSummary(list, entries),
    ...extra,
    merged: { from: list.map((l) => ({ path: l.path, entries: l.manifest.entries.length, ...(shardOf(l.manifest) ? { shard: shardOf(l.manifest) } : {}) })) },
    entries,
  };
  return { manifest, conflicts };
}

const shardOf = (m: Manifest): Shard | undefined => {
  const s = m.shard as Partial<Shard> | undefined;
  return s && Number.isInteger(s.index) && Number.isInteger(s.total) ? { index: s.index!, total: s.total! } : undefined;
};

function shardConflicts(list: readonly LoadedManifest[]): string[] {
  const shards = list.map((l) => ({ path: l.path, shard: shardOf(l.manifest) }));
  const known = shards.filter((s): s is { path: string; shard: Shard } => !!s.shard);
  if (!known.length) return [];
  const out: string[] = [];
  const totals = new Set(known.map((s) => s.shard.total));
  if (totals.size > 1) return [`shards of different totals: ${known.map((s) => `${s.path} is ${s.shard.index}/${s.shard.total}`).join(', ')}`];
  const total = known[0]!.shard.total;
  const byIndex = new Map<number, string[]>();
  for (const s of known) byIndex.set(s.shard.index, [...(byIndex.get(s.shard.index) ?? []), s.path]);
  for (const [i, paths] of byIndex) if (paths.length > 1) out.push(`shard ${i}/${total} given twice: ${paths.join(', ')}`);
  const unsharded = shards.filter((s) => !s.shard).map((s) => s.path);
  if (unsharded.length) out.push(`not a shard's manifest (no "shard" field) among shards: ${unsharded.join(', ')}`);
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) out.push(`shard${missing.length > 1 ? 's' : ''} missing: ${missing.map((i) => `${i}/${total}`).join(', ')}`);
  return out;
}

function mergedSummary(list: readonly LoadedManifest[], entries: readonly ManifestEntry[]): Omit<RunSummary, 'manifestPath'> {
  const n = (s: ManifestEntry['status']) => entries.filter((e) => e.status === s).length;
  const sums = list.map((l) => l.manifest.summary);
  const downloadFailures = sums.reduce((t, s) => t + (s?.downloadFailures ?? 0), 0);
  return {
    uploaded: n('uploaded'),
    skipped: n('skipped'),
    rejected: n('rejected'),
    failed: n('failed'),
    ...(downloadFailures ? { downloadFailures } : {}),
    bytes: sums.reduce((t, s) => t + (s?.bytes ?? 0), 0),
    // Shards run side by side: the merged run took as long as its longest shard.
    durationMs: Math.max(0, ...sums.map((s) => s?.durationMs ?? 0)),
    interrupted: sums.some((s) => s?.interrupted),
    dryRun: sums.some((s) => s?.dryRun),
  };
}

/** Entries whose output is in place (uploaded now or earlier): what `urls` and `verify` read. */
export const doneEntries = (m: Manifest) => m.entries.filter((e) => (e.status === 'uploaded' || e.status === 'skipped') && e.url);

/** Every output URL once, in entry order. */
export function manifestUrls(m: Manifest): string[] {
  return [...new Set(doneEntries(m).map((e) => e.url!))];
}
