import { describe, expect, it } from 'vitest';
import { splitEvenly, derivedBatchId } from '../../src/core/plan.js';
import { planBach } from '../../src/providers/bach/plan.js';
import type { Item } from '../../src/core/types.js';
import { pngItems } from '../helpers/items.js';
import { remoteName, checkTemplate } from '../../src/core/naming.js';

const files = pngItems;
const zip = (order: number, images: number): Item => ({
  source: `/d/z${order}.zip`,
  kind: 'file',
  path: `/d/z${order}.zip`,
  order,
  name: `z${order}.zip`,
  size: 1000,
  format: 'zip',
  zipEntries: Array.from({ length: images }, (_, i) => ({ path: `${i}.png`, size: 10, format: 'png' })),
});

describe('splitEvenly', () => {
  it('uses the fewest groups, as even as possible', () => {
    expect(splitEvenly(files(650), 300).map((g) => g.length)).toEqual([217, 217, 216]);
    expect(splitEvenly(files(300), 300).map((g) => g.length)).toEqual([300]);
    expect(splitEvenly(files(301), 300).map((g) => g.length)).toEqual([151, 150]);
    expect(splitEvenly([], 300)).toEqual([]);
  });
});

describe('planBach', () => {
  it('650 images: 3 async batches of ≤ 300', () => {
    const plan = planBach({ items: files(650), mode: 'auto' });
    expect(plan.map((b) => [b.mode, b.files])).toEqual([
      ['async', 217],
      ['async', 217],
      ['async', 216],
    ]);
    expect(new Set(plan.flatMap((b) => b.sources)).size).toBe(650);
  });

  it('a few images go sync in one batch', () => {
    const plan = planBach({ items: files(49), mode: 'auto' });
    expect(plan).toHaveLength(1);
    expect(plan[0]!.mode).toBe('sync');
    expect(plan[0]!.reason).toMatch(/< 50/);
  });

  it('--batch-size splits a small sync set too (at most N files per batch)', () => {
    const plans = planBach({ items: files(7), mode: 'auto', maxBatchFiles: 3 });
    expect(plans.map((p) => [p.mode, p.files])).toEqual([
      ['sync', 3],
      ['sync', 2],
      ['sync', 2],
    ]);
    expect(plans[0]!.reason).toContain('≤ 3 per batch');
  });

  it('counts ZIP images toward the 50 threshold and keeps ZIPs on the sync path', () => {
    const plan = planBach({ items: [...files(10), zip(10, 60)], mode: 'auto' });
    expect(plan.map((b) => [b.mode, b.files, b.images])).toEqual([
      ['async', 10, 10],
      ['sync', 1, 60],
    ]);
  });

  it('URLs go async even in sync mode; --mode overrides the thresholds', () => {
    const url: Item = { source: 'https://x/a.png', kind: 'url', url: 'https://x/a.png', order: 5, name: 'a.png' };
    const plan = planBach({ items: [...files(3), url], mode: 'sync' });
    expect(plan.map((b) => [b.mode, b.files])).toEqual([
      ['sync', 3],
      ['async', 1],
    ]);
    expect(planBach({ items: files(3), mode: 'async' })[0]!.mode).toBe('async');
    expect(planBach({ items: files(400), mode: 'sync' }).map((b) => b.mode)).toEqual(['sync', 'sync']);
  });

  it('batch ids: deterministic from content, or the user id (suffixed when several)', () => {
    const a = planBach({ items: files(5), mode: 'auto' })[0]!.batchId;
    expect(planBach({ items: files(5), mode: 'auto' })[0]!.batchId).toBe(a);
    // Re-uploading the same files later (they were batched before) gives a new id.
    expect(planBach({ items: files(5).map((it) => ({ ...it, generation: 1 })), mode: 'auto' })[0]!.batchId).not.toBe(a);
    expect(planBach({ items: files(5), mode: 'auto', salt: '', batchId: 'mine' })[0]!.batchId).toBe('mine');
    expect(planBach({ items: files(650), mode: 'auto', salt: '', batchId: 'mine' }).map((b) => b.batchId)).toEqual(['mine-1', 'mine-2', 'mine-3']);
    expect(derivedBatchId(files(2), 'sync')).toMatch(/^bu-[0-9a-f]{20}$/);
  });
});

describe('naming', () => {
  it('uses the file name by default and fills templates', () => {
    expect(remoteName('/a/b/photo.JPG', 3)).toBe('photo.JPG');
    expect(remoteName('/a/shoot/photo.jpg', 3, '{parent}-{stem}-{index}.{ext}')).toBe('shoot-photo-3.jpg');
    expect(remoteName('https://h/x/my%20pic.png?x=1', 0)).toBe('my pic.png');
    expect(() => checkTemplate('{nope}')).toThrow(/unknown placeholder/);
  });
});
