/**
 * From what the user named to planned batches, before anything is submitted: scan → refuse the
 * kinds the provider does not take → skip what the journal says is done → validate (or let the
 * provider expand its own inputs) → the provider's screens and network checks → resume batches a
 * dead run announced → plan. Every input ends up an item to send, or a manifest entry (skipped,
 * rejected) — in scan order, so the manifest is stable run to run.
 */
import { basename } from 'node:path';
import type { Emit } from './events.js';
import { decide } from './incremental.js';
import type { Journal, JournalState } from './journal.js';
import type { ManifestEntry } from './manifest.js';
import { remoteName } from './naming.js';
import type { UploadOptions } from './options.js';
import { planBatch } from './plan.js';
import { mapPool } from './pool.js';
import type { AnyProvider, BatchPlan, CheckContext, Screened } from './provider.js';
import { scan } from './scan.js';
import { applyShard } from './shard.js';
import type { Candidate, Item, Rejection } from './types.js';
import { validateCandidate } from './validate/index.js';

const VALIDATE_CONCURRENCY = 16;
const KIND_WORDS = { file: 'local files', url: 'URLs', storage: 'storage folders' } as const;

export interface Gathered {
  /** Planned batches (resumed ones first). */
  batches: BatchPlan[];
  /** Entries of inputs that are not sent (skipped, rejected), by scan order. */
  entries: Map<number, ManifestEntry[]>;
  /** Entries of inputs of earlier runs that are gone (kept unless --prune). */
  keptGone: ManifestEntry[][];
}

export interface GatherContext {
  provider: AnyProvider;
  providerOptions: unknown;
  /** The provider's fingerprint of its options. */
  params: string;
  opts: UploadOptions;
  state: JournalState;
  journal?: Journal;
  emit: Emit;
  now: () => number;
  /** For the provider's expansion and network checks (no credentials); undefined when it has none. */
  check?: CheckContext;
}

export async function gatherInputs(g: GatherContext): Promise<Gathered> {
  const { provider, opts, state, journal, emit } = g;
  const { candidates, rejections: scanRejections } = applyShard(await scan(opts), opts.shard, opts.cwd);
  emit({ type: 'scan', candidates: candidates.length });

  const entries = new Map<number, ManifestEntry[]>();
  const rejected = (r: Rejection, order: number) => {
    emit({ type: 'reject', rejection: r });
    entries.set(order, [{ source: r.source, status: 'rejected', rule: r.rule, error: r.message, provider: provider.name, size: r.size, mtimeMs: r.mtimeMs }]);
  };
  const refuse = (list: readonly Screened[], items: Item[]) => {
    for (const { item, rule, detail } of list) {
      const at = items.indexOf(item);
      if (at < 0) continue; // refused once already
      items.splice(at, 1);
      rejected(
        {
          source: item.source,
          rule,
          message: `${item.kind === 'file' ? basename(item.source) : item.source}: ${detail} (${rule})`,
          size: item.size,
          mtimeMs: item.mtimeMs,
        },
        item.order,
      );
    }
  };
  for (const [i, r] of scanRejections.entries()) rejected(r, -scanRejections.length + i);

  // What the provider does not take at all is refused before anything is read.
  const takes = new Set(provider.capabilities.inputs);
  const accepted = candidates.filter((c) => {
    if (takes.has(c.kind)) return true;
    const only = [...takes].map((k) => KIND_WORDS[k]).join(' and ');
    rejected(
      {
        source: c.source,
        rule: 'unsupported-type',
        message: `${c.source}: ${provider.name} takes ${only} only, not ${KIND_WORDS[c.kind]} (unsupported-type)`,
        size: c.size,
        mtimeMs: c.mtimeMs,
      },
      c.order,
    );
    return false;
  });

  // Incremental: inputs the journal knows as done, unchanged and with the same parameters are
  // skipped on a stat alone (a provider that expands its files decides per expanded input).
  const decideOpts = () => ({ force: !!opts.force, params: g.params, refreshBeforeMs: opts.refreshBeforeMs, now: g.now() });
  const skipIfDone = async (c: Candidate): Promise<boolean> => {
    const d = await decide(c, state, decideOpts());
    if (!d.skip) return false;
    if (d.rehashed) journal?.append({ t: 'file', source: c.source, size: c.size!, mtimeMs: c.mtimeMs!, sha256: d.rehashed.sha256 });
    entries.set(c.order, d.entries);
    emit({ type: 'skip', source: c.source, reason: d.rehashed ? 'content unchanged (only the modification time moved)' : 'unchanged since the last upload' });
    for (const e of d.entries) emit({ type: 'result', entry: e });
    return true;
  };
  const toValidate: Candidate[] = [];
  await mapPool(accepted, VALIDATE_CONCURRENCY, async (c) => {
    if (provider.expand || !(await skipIfDone(c))) toValidate.push(c);
  });

  const items: Item[] = [];
  await mapPool(toValidate, VALIDATE_CONCURRENCY, async (c) => {
    if (provider.expand && g.check) {
      const out = await provider.expand(c, g.check);
      for (const [i, r] of out.rejections.entries()) rejected(r, c.order + (i + 1) / (out.rejections.length + out.items.length + 1));
      for (const it of out.items) {
        const asInput: Candidate = { source: it.source, kind: 'url', order: it.order };
        if (!(await skipIfDone(asInput))) items.push({ ...it, generation: state.generations.get(it.source) ?? 0 });
      }
      return;
    }
    const res = await validateCandidate(c, provider.policy);
    if (res.ok) {
      // Set on the fresh item, not spread into a copy: a spread copy of an object with added
      // fields got a hidden class of its own in V8 (~300 B a file, measured at 100k).
      res.item.name = remoteName(c.source, c.order, opts.nameTemplate);
      res.item.generation = state.generations.get(c.source) ?? 0;
      items.push(res.item);
    } else rejected(res.rejection, c.order);
  });
  items.sort((a, b) => a.order - b.order);
  // Provider rules that need the whole set (two inputs with one remote name), then its network checks.
  refuse(provider.screen?.(items, g.providerOptions) ?? [], items);
  if (provider.check && g.check && items.length) refuse(await provider.check(items, g.check), items);

  // Inputs of earlier runs that are gone: reported, kept in the manifest unless --prune.
  const present = new Set([...candidates.map((c) => c.source), ...scanRejections.map((r) => r.source), ...items.map((it) => it.source)]);
  for (const list of entries.values()) for (const e of list) present.add(e.source);
  const gone = [...state.entries.keys()].filter((s) => !present.has(s) && !hasPresentContainer(s, present));
  for (const source of gone) emit({ type: 'gone', source, pruned: !!opts.prune });
  if (opts.prune && gone.length) journal?.append({ t: 'forget', sources: gone }, true);
  const keptGone = opts.prune ? [] : gone.map((s) => state.entries.get(s)!);

  // Batches an earlier run announced but never saw finish: resume them under the same id, as
  // long as they would hold exactly the same inputs; otherwise plan those inputs afresh.
  const bySource = new Map(items.map((it) => [it.source, it]));
  const resumed: BatchPlan[] = [];
  for (const p of state.pending.values()) {
    const its = p.sources.map((s) => bySource.get(s));
    if (opts.force || !its.every((it): it is Item => !!it)) {
      journal?.append({ t: 'entries', batchId: p.batchId, entries: [] });
      continue;
    }
    for (const it of its) bySource.delete(it.source);
    const reason = 'announced by an interrupted run: look it up, submit only if the server does not have it';
    resumed.push({ ...planBatch(its, { batchId: p.batchId, mode: p.mode, reason, resumed: true }), announcedAt: p.at });
  }
  const fresh = items.filter((it) => bySource.has(it.source));
  const batches = [...resumed, ...provider.plan({ items: fresh, mode: opts.mode, batchId: opts.batchId, maxBatchFiles: opts.maxBatchFiles, salt: state.salt })];
  emit({ type: 'plan', provider: provider.name, dryRun: opts.dryRun, batches: batches.map(({ items: _items, resumed: _r, announcedAt: _a, ...b }) => b) });
  return { batches, entries, keptGone };
}

/** `a.zip#inner.png` stays while `a.zip` is an input (looked up per `#`, not by scanning every input). */
function hasPresentContainer(source: string, present: Set<string>): boolean {
  for (let i = source.indexOf('#'); i > 0; i = source.indexOf('#', i + 1)) if (present.has(source.slice(0, i))) return true;
  return false;
}
