import { describe, expect, it } from 'vitest';
import { planBatches, windowSize } from '../../src/core/batch-stream.js';
import type { BatchupEvent } from '../../src/core/events.js';
import { JournalState } from '../../src/core/journal-state.js';
import type { UploadOptions } from '../../src/core/options.js';
import { forEachPool, mapOrdered } from '../../src/core/pool.js';
import type { AnyProvider, BatchPlan } from '../../src/core/provider.js';
import type { Item } from '../../src/core/types.js';
import { pngItems } from '../helpers/items.js';
import { bach as bachProvider } from '../../src/providers/bach/index.js';

const files = pngItems;

async function* stream<T>(list: T[], log?: string[]): AsyncGenerator<T> {
  for (const [i, x] of list.entries()) {
    log?.push(`validated ${i}`);
    yield x;
  }
}

const opts = (o: Partial<UploadOptions> = {}) => ({ mode: 'auto', dryRun: false, ...o }) as UploadOptions;

async function plan(items: Item[], o: Partial<UploadOptions> = {}, state = new JournalState(), provider: AnyProvider = bachProvider) {
  const events: BatchupEvent[] = [];
  const batches: BatchPlan[] = [];
  const left = { files: items.length, bytes: items.length * 100 };
  const source = (async function* () {
    for await (const it of stream(items)) {
      left.files--;
      left.bytes -= 100;
      yield it;
    }
  })();
  const admit = async (list: Item[]) => list;
  for await (const b of planBatches(source, items.length, () => ({ ...left }), { provider, opts: opts(o), state, emit: (e) => events.push(e), admit })) {
    batches.push(b);
  }
  const plans = events.filter((e) => e.type === 'plan');
  return { batches, plans };
}

describe('windowSize', () => {
  it('whole batches of the even size the run needs; the whole set when it fits one window', () => {
    expect(windowSize(1000, 300, {})).toBe(250);
    expect(windowSize(650, 300, {})).toBe(217);
    expect(windowSize(300, 300, {})).toBe(Number.POSITIVE_INFINITY);
    expect(windowSize(1000, 5, {})).toBe(255); // 51 batches of 5 a window
    expect(windowSize(1000, 300, { maxBatchFiles: 100 })).toBe(200);
    expect(windowSize(200, 300, { maxBatchFiles: 20 })).toBe(Number.POSITIVE_INFINITY); // 240 ≥ 200
  });
  it('a provider without a batch limit, or a user-chosen batch id, plans once', () => {
    expect(windowSize(100_000, undefined, {})).toBe(Number.POSITIVE_INFINITY);
    expect(windowSize(100_000, 300, { batchId: 'mine' })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('planBatches', () => {
  it('1,000 inputs: four batches of 250, each planned when its window is validated, `more` until the last', async () => {
    const { batches, plans } = await plan(files(1000));
    expect(batches.map((b) => [b.mode, b.files])).toEqual(Array.from({ length: 4 }, () => ['async', 250]));
    expect(batches.flatMap((b) => b.sources)).toEqual(files(1000).map((f) => f.source));
    expect(plans.map((p) => (p.type === 'plan' ? [p.batches.length, p.more?.files] : []))).toEqual([
      [1, 750],
      [1, 500],
      [1, 250],
      [1, 0],
      [0, undefined],
    ]);
  });

  it('the same batches as planning the whole set when the inputs divide evenly (650 → 217, 217, 216)', async () => {
    const { batches } = await plan(files(650));
    expect(batches.map((b) => b.files)).toEqual([217, 217, 216]);
    const whole = bachProvider.plan({ items: files(650), mode: 'auto' });
    expect(batches.map((b) => b.batchId)).toEqual(whole.map((b) => b.batchId));
  });

  it('a window is never "small": a large run stays on the async path even when its last window has few inputs', async () => {
    const { batches } = await plan(files(640), { maxBatchFiles: 20 }); // windows of 240; the last has 160
    expect(new Set(batches.map((b) => b.mode))).toEqual(new Set(['async']));
    expect(batches.every((b) => b.files <= 20)).toBe(true);
    expect(batches.length).toBe(32);
  });

  it('a dry run validates everything and shows one plan with every batch', async () => {
    const { batches, plans } = await plan(files(1000), { dryRun: true });
    expect(batches).toHaveLength(4);
    expect(plans).toHaveLength(1);
    expect(plans[0]!.type === 'plan' && plans[0]!.batches.length).toBe(4);
  });

  it('the first batch is handed out before the rest is validated', async () => {
    const log: string[] = [];
    const items = files(1000);
    const gen = planBatches(stream(items, log), 1000, () => ({ files: 0, bytes: 0 }), {
      provider: bachProvider,
      opts: opts(),
      state: new JournalState(),
      emit: () => undefined,
      admit: async (l) => l,
    });
    const first = await gen.next();
    expect(first.value?.files).toBe(250);
    expect(log.length).toBeLessThanOrEqual(251);
    await gen.return(undefined);
  });

  it('a batch an interrupted run announced is resumed whole, under its id; one that lost an input is planned afresh', async () => {
    const state = new JournalState();
    const items = files(1000);
    const whole = items.slice(600, 610).map((i) => i.source);
    const broken = [items[700]!.source, '/d/gone.png'];
    state.pending.set('bu-whole', { batchId: 'bu-whole', mode: 'async', sources: whole });
    state.pending.set('bu-broken', { batchId: 'bu-broken', mode: 'async', sources: broken });
    const { batches } = await plan(items, {}, state);
    const resumed = batches.filter((b) => b.resumed);
    expect(resumed.map((b) => [b.batchId, b.sources])).toEqual([['bu-whole', whole]]);
    const all = batches.flatMap((b) => b.sources);
    expect(all).toHaveLength(1000);
    expect(new Set(all).size).toBe(1000);
    expect(all).toContain(items[700]!.source);
  });
});

describe('pools over streams', () => {
  it('mapOrdered yields in input order whatever order the work ends in', async () => {
    const out: number[] = [];
    for await (const x of mapOrdered([5, 1, 4, 2, 3], 3, (n) => new Promise<number>((r) => setTimeout(() => r(n), n * 3)))) out.push(x);
    expect(out).toEqual([5, 1, 4, 2, 3]);
  });

  it('forEachPool runs at most `concurrency` at once and pulls ahead only a little', async () => {
    let running = 0;
    let most = 0;
    let pulled = 0;
    let done = 0;
    const source = (async function* () {
      for (let i = 0; i < 20; i++) {
        pulled++;
        // never more than the workers plus the look-ahead before the work is done
        expect(pulled - done).toBeLessThanOrEqual(3 + 2);
        yield i;
      }
    })();
    await forEachPool(source, 3, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      done++;
    });
    expect(most).toBe(3);
    expect(done).toBe(20);
  });

  it('forEachPool: an error of the source or of a worker is thrown after the started workers end', async () => {
    let ended = 0;
    const failing = (async function* () {
      yield 1;
      yield 2;
      throw new Error('source broke');
    })();
    await expect(
      forEachPool(failing, 2, async () => {
        await new Promise((r) => setTimeout(r, 5));
        ended++;
      }),
    ).rejects.toThrow('source broke');
    expect(ended).toBe(2);
    await expect(
      forEachPool(stream([1, 2, 3]), 2, async (n) => {
        if (n === 2) throw new Error('worker broke');
      }),
    ).rejects.toThrow('worker broke');
  });
});
