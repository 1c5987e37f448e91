/** Mapping claid's answers to manifest entries: by position, ERROR/CANCELLED for every input, storage folders, expiry. */
import { describe, expect, it } from 'vitest';
import { inputEntry } from '../../src/core/entries.js';
import { planBatch } from '../../src/core/plan.js';
import type { Item } from '../../src/core/types.js';
import type { BatchData, ResultItem } from '../../src/providers/claid/contract.js';
import { planClaid } from '../../src/providers/claid/plan.js';
import { batchEntries, statusWord, uploadEntry } from '../../src/providers/claid/results.js';

const T = Date.parse('2026-03-01T10:00:00Z');
const times = { finishedAt: new Date(T + 5000).toISOString(), madeAt: T };
const url = (i: number): Item => ({ source: `http://h/img-${i}.png`, kind: 'url', url: `http://h/img-${i}.png`, order: i, name: `img-${i}.png` });
const result = (w: number, out: Partial<ResultItem['output_object']>): ResultItem => ({
  input_object: { ext: 'png', mps: (w * 10) / 1e6, mime: 'image/png', format: 'PNG', width: w, height: 10 },
  output_object: { ext: 'jpeg', mps: 0.005, mime: 'image/jpeg', format: 'JPEG', width: 500, height: 10, ...out },
});
const data = (status: string, results: ResultItem[], errors: BatchData['errors'] = []): BatchData => ({ id: 42, status, created_at: '', errors, results });

function urlBatch(n: number) {
  const items = Array.from({ length: n }, (_, i) => url(i));
  const batch = planBatch(items, { batchId: 'b1', mode: 'batch', reason: '' });
  return { batch, bases: items.map((it, index) => inputEntry('claid', it, { batchId: 'b1', mode: 'batch', index })) };
}

describe('a finished URL batch', () => {
  it('DONE: result i is input i, with its tmp_url, a one-day expiry and both objects', () => {
    const { batch, bases } = urlBatch(3);
    const results = [0, 1, 2].map((i) => result(100 + i, { tmp_url: `http://tmp/${i}.jpeg` }));
    const entries = batchEntries(batch, bases, data('DONE', results), times);
    expect(entries.map((e) => [e.source, e.status, e.url, e.id, e.index])).toEqual([
      ['http://h/img-0.png', 'uploaded', 'http://tmp/0.jpeg', '42', 0],
      ['http://h/img-1.png', 'uploaded', 'http://tmp/1.jpeg', '42', 1],
      ['http://h/img-2.png', 'uploaded', 'http://tmp/2.jpeg', '42', 2],
    ]);
    expect(entries[1]!.remote).toEqual({ input_object: results[1]!.input_object, output_object: results[1]!.output_object });
    expect(entries[0]!.expiresAt).toBe('2026-03-02T10:00:00.000Z');
  });

  it('with a storage destination the url is the bucket URI, and nothing expires', () => {
    const { batch, bases } = urlBatch(1);
    const [e] = batchEntries(batch, bases, data('DONE', [result(100, { object_uri: 's3://shop/out/img-0.jpeg', object_key: 'out/img-0.jpeg' })]), times);
    expect(e).toMatchObject({ status: 'uploaded', url: 's3://shop/out/img-0.jpeg' });
    expect(e!.expiresAt).toBeUndefined();
  });

  it('a count that does not match cannot be mapped by position: every input fails (PROTOCOL)', () => {
    const { batch, bases } = urlBatch(3);
    const entries = batchEntries(batch, bases, data('DONE', [result(1, { tmp_url: 'x' })]), times);
    expect(entries.every((e) => e.status === 'failed' && e.code === 'PROTOCOL' && /1 results for 3 inputs/.test(e.error!))).toBe(true);
  });

  it('ERROR fails every input with the server text; CANCELLED with code CANCELLED', () => {
    const { batch, bases } = urlBatch(2);
    const err = batchEntries(batch, bases, data('ERROR', [], [{ error: 'Failed to fetch http://h/img-1.png', created_at: '' }]), times);
    expect(err.map((e) => [e.status, e.code])).toEqual([
      ['failed', 'REMOTE'],
      ['failed', 'REMOTE'],
    ]);
    expect(err[0]!.error).toBe('http://h/img-0.png: batch 42 failed on the server: Failed to fetch http://h/img-1.png');
    const cancelled = batchEntries(batch, bases, data('CANCELLED', []), times);
    expect(cancelled.every((e) => e.code === 'CANCELLED' && e.status === 'failed')).toBe(true);
  });
});

describe('a storage folder batch', () => {
  const folder: Item = { source: 'storage://shop/in/', kind: 'storage', order: 0, name: 'in' };
  const batch = planBatch([folder], { batchId: 'b2', mode: 'batch', reason: '' });
  const bases = [inputEntry('claid', folder, { batchId: 'b2', mode: 'batch', index: 0 })];

  it('every result is an entry under the folder, named by its input path', () => {
    const results = [
      result(10, { object_key: 'out/a.jpeg', object_uri: 's3://shop/out/a.jpeg', claid_storage_uri: 'storage://shop/out/a.jpeg' }),
      result(20, { object_key: 'out/sub/b.jpeg', object_uri: 's3://shop/out/sub/b.jpeg' }),
    ];
    const entries = batchEntries(batch, bases, data('DONE', results), { ...times, destination: 'storage://shop/out/' });
    expect(entries.map((e) => [e.source, e.name, e.url, e.index])).toEqual([
      ['storage://shop/in/!/a.png', 'a.png', 's3://shop/out/a.jpeg', 0],
      ['storage://shop/in/!/sub/b.png', 'sub/b.png', 's3://shop/out/sub/b.jpeg', 1],
    ]);
  });

  it('without a destination the results are numbered', () => {
    const entries = batchEntries(batch, bases, data('DONE', [result(10, { tmp_url: 'http://tmp/1' })]), times);
    expect(entries[0]!.source).toBe('storage://shop/in/!/result-1');
  });

  it('ERROR (no images found) fails the folder itself', () => {
    const [e] = batchEntries(batch, bases, data('ERROR', [], [{ error: 'No images found', created_at: '' }]), times);
    expect(e).toMatchObject({ source: 'storage://shop/in/', status: 'failed', code: 'REMOTE' });
  });
});

describe('an upload answer', () => {
  it('input/output normalised to input_object/output_object; no place is a failure', () => {
    const it0: Item = { source: '/p/a.png', kind: 'file', path: '/p/a.png', order: 0, name: 'a.png', size: 10 };
    const base = inputEntry('claid', it0, { batchId: 'u', mode: 'upload', index: 0 });
    const r = result(100, { tmp_url: 'http://tmp/a.jpeg' });
    const e = uploadEntry(base, { input: r.input_object, output: r.output_object }, { ...times, id: 'req-1' });
    expect(e).toMatchObject({
      status: 'uploaded',
      url: 'http://tmp/a.jpeg',
      id: 'req-1',
      remote: { input_object: r.input_object, output_object: r.output_object },
    });
    const none = uploadEntry(base, { input: r.input_object, output: { ...r.output_object, tmp_url: undefined } }, times);
    expect(none).toMatchObject({ status: 'failed', code: 'PROTOCOL' });
  });
});

describe('statuses and plans', () => {
  it('PAUSED shows as waiting', () => {
    expect(statusWord('PAUSED')).toBe('WAITING');
    expect(statusWord('WAITING')).toBe('WAITING');
    expect(statusWord('PROCESSING')).toBe('PROCESSING');
  });

  it('files go one upload each (≤ 50 per plan batch), URLs ≤ 100 per batch, a folder a batch of its own', () => {
    const files: Item[] = Array.from({ length: 120 }, (_, i) => ({
      source: `/f/${i}.png`,
      kind: 'file',
      path: `/f/${i}.png`,
      order: i,
      name: `${i}.png`,
      size: 1,
    }));
    const urls = Array.from({ length: 250 }, (_, i) => url(200 + i));
    const folder: Item = { source: 'storage://s/in/', kind: 'storage', order: 999, name: 'in' };
    const plan = planClaid({ items: [...files, ...urls, folder], mode: 'auto' });
    expect(plan.map((b) => [b.mode, b.files])).toEqual([
      ['upload', 40],
      ['upload', 40],
      ['upload', 40],
      ['batch', 84],
      ['batch', 83],
      ['batch', 83],
      ['batch', 1],
    ]);
    expect(new Set(plan.map((b) => b.batchId)).size).toBe(7);
  });
});
