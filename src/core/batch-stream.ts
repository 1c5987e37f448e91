/**
 * Batches planned as inputs are validated. A provider that declares `capabilities.batchLimit`
 * (its batches are independent, at most that many inputs each) gets the validated items a window
 * at a time, in input order: each window whole batches of the even size the run needs — the
 * fewest batches of ≤ the limit for the inputs there are to validate — so the first batch is on
 * the wire while the rest are still being read, and no list of every item is ever held. A
 * provider without it (one batch for the whole run, rules over the whole set), a user-chosen
 * batch id, or a run that fits in one batch is planned once, after validation.
 *
 * Batches an interrupted run announced are resumed under their id as soon as all their inputs are
 * validated again (unless --force); one that lost an input is closed and its inputs planned afresh.
 */
import type { Emit, PlannedBatch } from './events.js';
import type { Journal, JournalState } from './journal.js';
import type { UploadOptions } from './options.js';
import { planBatch } from './plan.js';
import type { AnyProvider, BatchPlan } from './provider.js';
import type { Item } from './types.js';

/** Below this many inputs a window holds several batches (hybrid's 5 a batch: one plan per ~256 inputs). */
const MIN_WINDOW = 256;

/** Inputs per planning window; Infinity: plan once, over the whole set. */
export function windowSize(count: number, batchLimit: number | undefined, o: { maxBatchFiles?: number; batchId?: string }): number {
  if (!batchLimit || o.batchId) return Number.POSITIVE_INFINITY;
  const per = Math.max(1, Math.min(batchLimit, o.maxBatchFiles ?? batchLimit));
  if (count <= per) return Number.POSITIVE_INFINITY;
  const even = Math.ceil(count / Math.ceil(count / per));
  const window = even * Math.max(1, Math.floor(MIN_WINDOW / even));
  return window >= count ? Number.POSITIVE_INFINITY : window;
}

export interface BatchStreamContext {
  provider: AnyProvider;
  opts: UploadOptions;
  state: JournalState;
  journal?: Journal;
  emit: Emit;
  /** The provider's screens and network checks over a list of items: what passes. */
  admit(items: Item[]): Promise<Item[]>;
}

/** Validated items (in input order) → batches; `left` tells what is still to validate (files, bytes). */
export async function* planBatches(
  items: AsyncIterable<Item>,
  count: number,
  left: () => { files: number; bytes: number },
  c: BatchStreamContext,
): AsyncGenerator<BatchPlan> {
  const { provider, opts } = c;
  const size = windowSize(count, provider.capabilities.batchLimit, opts);
  const whole = !Number.isFinite(size);
  const resumer = new Resumer(c);
  const shown: PlannedBatch[] = []; // a dry run and a whole-set plan show one plan event
  const plan = async (window: Item[], last: boolean): Promise<BatchPlan[]> => {
    const { resumed, fresh: list } = resumer.take(await c.admit(window), last);
    const fresh = list.length
      ? provider.plan({ items: list, mode: opts.mode, batchId: opts.batchId, maxBatchFiles: opts.maxBatchFiles, salt: c.state.salt, partial: !whole })
      : [];
    const batches = [...resumed, ...fresh];
    const described = batches.map(({ items: _i, resumed: _r, announcedAt: _a, ...b }) => b);
    if (opts.dryRun || whole) shown.push(...described);
    else {
      const rest = left();
      c.emit({ type: 'plan', provider: provider.name, dryRun: false, batches: described, ...(last ? {} : { more: rest }) });
    }
    if ((opts.dryRun || whole) && last) c.emit({ type: 'plan', provider: provider.name, dryRun: opts.dryRun, batches: shown });
    return batches;
  };

  let window: Item[] = [];
  for await (const it of items) {
    window.push(it);
    if (window.length >= size) {
      const full = window;
      window = [];
      yield* await plan(full, false);
      // Validation reads synchronously: let the batches just handed out get on the wire first.
      await new Promise((r) => setImmediate(r));
    }
  }
  yield* await plan(window, true);
}

/** Holds the inputs of batches an interrupted run announced until each batch is whole again. */
class Resumer {
  /** Announced batch by each of its sources. */
  private readonly bySource = new Map<string, string>();
  private readonly held = new Map<string, Item[]>();

  constructor(private readonly c: BatchStreamContext) {
    for (const p of c.state.pending.values()) {
      if (c.opts.force) this.close(p.batchId);
      else for (const s of p.sources) this.bySource.set(s, p.batchId);
    }
  }

  /**
   * A window's items: the batches they make whole again, and the items to plan afresh. At the
   * end, batches that never became whole (an input gone, changed or rejected) are closed and
   * their inputs planned afresh.
   */
  take(items: Item[], last: boolean): { resumed: BatchPlan[]; fresh: Item[] } {
    const resumed: BatchPlan[] = [];
    const fresh: Item[] = [];
    for (const it of items) {
      const id = this.bySource.get(it.source);
      if (id === undefined) {
        fresh.push(it);
        continue;
      }
      const list = this.held.get(id) ?? [];
      list.push(it);
      this.held.set(id, list);
      const p = this.c.state.pending.get(id)!;
      if (list.length < p.sources.length) continue;
      // In the order it was announced: the same batch, as the server may have it.
      const at = new Map(list.map((x) => [x.source, x]));
      const reason = 'announced by an interrupted run: look it up, submit only if the server does not have it';
      resumed.push({
        ...planBatch(
          p.sources.map((s) => at.get(s)!),
          { batchId: id, mode: p.mode, reason, resumed: true },
        ),
        announcedAt: p.at,
      });
      for (const s of p.sources) this.bySource.delete(s);
      this.held.delete(id);
    }
    if (last) {
      for (const id of new Set(this.bySource.values())) this.close(id);
      for (const list of this.held.values()) fresh.push(...list);
      this.bySource.clear();
      this.held.clear();
      fresh.sort((a, b) => a.order - b.order);
    }
    return { resumed, fresh };
  }

  private close(id: string): void {
    this.c.journal?.append({ t: 'res', batchId: id, c: {}, in: [] });
  }
}
