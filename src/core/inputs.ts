/**
 * From what the user named to planned batches: scan → refuse the kinds the provider does not
 * take → skip what the journal says is done (all before anything is read) → then, as the batches
 * are pulled, validate (or let the provider expand its own inputs) → the provider's screens and
 * network checks → resume batches a dead run announced → plan (batch-stream.ts). Every input ends
 * up an item to send, or a manifest entry (skipped, rejected) — in scan order, so the manifest is
 * stable run to run.
 */
import { basename } from 'node:path';
import type { Emit } from './events.js';
import { decide, decideByStat, type Decision } from './incremental.js';
import type { Journal, JournalState } from './journal.js';
import { remoteName } from './naming.js';
import type { UploadOptions } from './options.js';
import { planBatches } from './batch-stream.js';
import { mapOrdered, mapPool } from './pool.js';
import type { AnyProvider, BatchPlan, CheckContext, Screened } from './provider.js';
import { RunResults } from './results.js';
import { type CandidateList, type ScanResult, scan } from './scan.js';
import { applyShard } from './shard.js';
import type { Candidate, Item, Rejection } from './types.js';
import { validateCandidate } from './validate/index.js';

const VALIDATE_CONCURRENCY = 16;
const KIND_WORDS = { file: 'local files', url: 'URLs', storage: 'storage folders' } as const;

export interface Gathered {
  /** Batches as they are planned (see batch-stream.ts): validation runs as they are pulled. */
  batches: AsyncGenerator<BatchPlan>;
  /** Outcomes of inputs that are not sent (skipped, rejected), by scan order. */
  results: RunResults;
  /** Inputs of earlier runs that are gone, whose entries are kept (unless --prune); complete once `batches` is. */
  keptGone: string[];
  /** This run's inputs, in scan order. */
  candidates: CandidateList;
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
  /** The scan, when it is made already (see rerun-index.ts). */
  scanned?: ScanResult;
}

export async function gatherInputs(g: GatherContext): Promise<Gathered> {
  const { provider, opts, state, journal, emit } = g;
  const { candidates, rejections: scanRejections } = applyShard(g.scanned ?? (await scan(opts)), opts.shard, opts.cwd);
  emit({ type: 'scan', candidates: candidates.length });

  const results = new RunResults(state);
  // Inputs of earlier runs that are among this run's inputs (the others are gone). A source
  // inside a container (`spec.json#ref`) stays while its container is an input.
  const containers = new Set<string>();
  for (const source of state.done()) for (let i = source.indexOf('#'); i > 0; i = source.indexOf('#', i + 1)) containers.add(source.slice(0, i));
  const presentContainers = new Set<string>();
  const present = (source: string) => {
    const r = state.inputs.get(source);
    if (r) r.seen = true;
    if (containers.has(source)) presentContainers.add(source);
  };
  const rejected = (r: Rejection, order: number) => {
    emit({ type: 'reject', rejection: r });
    present(r.source);
    results.set(order, [{ source: r.source, status: 'rejected', rule: r.rule, error: r.message, provider: provider.name, size: r.size, mtimeMs: r.mtimeMs }]);
  };
  const refuse = (list: readonly Screened[], items: Item[]) => {
    const refused = new Set<Item>();
    for (const { item, rule, detail } of list) {
      if (refused.has(item)) continue; // refused once already
      refused.add(item);
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
    if (!refused.size) return items;
    return items.filter((it) => !refused.has(it));
  };
  for (const [i, r] of scanRejections.entries()) rejected(r, -scanRejections.length + i);
  for (let i = 0; i < candidates.length; i++) present(candidates.source(i));

  // What the provider does not take at all is refused before anything is read.
  const takes = new Set(provider.capabilities.inputs);
  const unsupported = (c: Candidate) => {
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
  };

  // Incremental: inputs the journal knows as done, unchanged and with the same parameters are
  // skipped on a stat alone (a provider that expands its files decides per expanded input).
  const decideOpts = { force: !!opts.force, params: g.params, refreshBeforeMs: opts.refreshBeforeMs, now: g.now() };
  const skipped = (c: Candidate, d: Decision) => {
    if (!d.skip) return false;
    if (d.rehashed) journal?.append({ t: 'file', source: c.source, size: c.size!, mtimeMs: c.mtimeMs!, sha256: d.rehashed.sha256 });
    results.skipped(c.order, c.source, d.entries, d.rehashed ? c.mtimeMs : undefined);
    emit({ type: 'skip', source: c.source, reason: d.rehashed ? REHASHED : UNCHANGED });
    if (!opts.quietSkips) for (const e of results.get(c.order)!) emit({ type: 'result', entry: e });
    return true;
  };
  const skipIfDone = async (c: Candidate): Promise<boolean> => skipped(c, await decide(c, state, decideOpts));
  // Decided on a stat, one after another; only inputs whose mtime moved are read (hashed), in a
  // pool. What is left to validate is kept as positions in the list (a candidate is made when its turn comes).
  const toValidate: number[] = [];
  const toHash: number[] = [];
  // What is still to validate (its size on disk), for progress totals while the run plans as it validates.
  let leftBytes = 0;
  const validate = (c: Candidate, i: number) => {
    toValidate.push(i);
    leftBytes += c.size ?? 0;
  };
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates.at(i);
    if (!takes.has(c.kind)) unsupported(c);
    else if (provider.expand) validate(c, i);
    else {
      const d = decideByStat(c, state, decideOpts);
      if (d === 'hash') toHash.push(i);
      else if (!skipped(c, d)) validate(c, i);
    }
  }
  await mapPool(toHash, VALIDATE_CONCURRENCY, async (i) => {
    const c = candidates.at(i);
    if (!(await skipIfDone(c))) validate(c, i);
  });
  if (toHash.length) toValidate.sort((a, b) => a - b);

  // Inputs of earlier runs that are gone: reported, kept in the manifest unless --prune. Known
  // now, unless the provider expands its inputs (their sources are known once expanded).
  const keptGone: string[] = [];
  const findGone = () => {
    const gone: string[] = [];
    for (const [source, r] of state.inputs) {
      if (r.group && !r.seen && !hasPresentContainer(source, presentContainers)) gone.push(source);
    }
    for (const source of gone) emit({ type: 'gone', source, pruned: !!opts.prune });
    if (opts.prune && gone.length) journal?.append({ t: 'forget', sources: gone }, true);
    if (!opts.prune) keptGone.push(...gone);
  };
  if (!provider.expand) findGone();

  let leftFiles = toValidate.length;
  const validated = async function* (): AsyncGenerator<Item> {
    for await (const out of mapOrdered(toValidate, VALIDATE_CONCURRENCY, (i) => validateOne(candidates.at(i)))) {
      leftFiles--;
      leftBytes -= out.size;
      for (const it of out.items) yield it;
    }
    if (provider.expand) findGone();
  };
  /** One candidate: its items (several for an expanding provider), or its rejections. */
  const validateOne = async (c: Candidate): Promise<{ items: Item[]; size: number }> => {
    const size = c.size ?? 0;
    if (provider.expand && g.check) {
      const out = await provider.expand(c, g.check);
      for (const [k, r] of out.rejections.entries()) rejected(r, c.order + (k + 1) / (out.rejections.length + out.items.length + 1));
      const items: Item[] = [];
      for (const it of out.items) {
        present(it.source);
        const asInput: Candidate = { source: it.source, kind: 'url', order: it.order };
        if (!(await skipIfDone(asInput))) items.push({ ...it, generation: state.generation(it.source) });
      }
      items.sort((a, b) => a.order - b.order);
      return { items, size };
    }
    const res = await validateCandidate(c, provider.policy);
    if (!res.ok) {
      rejected(res.rejection, c.order);
      return { items: [], size };
    }
    // Set on the fresh item, not spread into a copy: a spread copy of an object with added
    // fields got a hidden class of its own in V8 (~300 B a file, measured at 100k).
    res.item.name = remoteName(c.source, c.order, opts.nameTemplate);
    res.item.generation = state.generation(c.source);
    return { items: [res.item], size };
  };
  // Provider rules over the items (two inputs with one remote name), then its network checks.
  const admit = async (items: Item[]) => {
    let list = refuse(provider.screen?.(items, g.providerOptions) ?? [], items);
    if (provider.check && g.check && list.length) list = refuse(await provider.check(list, g.check), list);
    return list;
  };
  const left = () => ({ files: leftFiles, bytes: leftBytes });
  const batches = planBatches(validated(), toValidate.length, left, { provider, opts, state, journal, emit, admit });
  return { batches, results, keptGone, candidates };
}

export const UNCHANGED = 'unchanged since the last upload';
const REHASHED = 'content unchanged (only the modification time moved)';

/** `a.zip#inner.png` stays while `a.zip` is an input (looked up per `#`, not by scanning every input). */
function hasPresentContainer(source: string, present: Set<string>): boolean {
  for (let i = source.indexOf('#'); i > 0; i = source.indexOf('#', i + 1)) if (present.has(source.slice(0, i))) return true;
  return false;
}
