/**
 * The aihub adapter against an in-process sandbox: uploads (PUT and multipart), names, resume of
 * a multipart session from the durable state, a session the server forgot, faults, app runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat, writeFile, mkdir, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSandbox, type Sandbox } from '../../src/sandbox/index.js';
import type { BatchupEvent } from '../../src/core/events.js';
import type { ManifestEntry } from '../../src/core/manifest.js';
import type { Item } from '../../src/core/types.js';
import { aihub } from '../../src/providers/aihub/index.js';
import { aihubOptions, type AihubOptions } from '../../src/providers/aihub/options.js';
import { batchKey } from '../../src/providers/aihub/run.js';
import { sessionKey } from '../../src/providers/aihub/upload.js';
import { providerContext, type TestContext } from '../helpers/provider-context.js';
import { makePdf } from '../../src/devtools/documents.js';
import { makePng } from '../../src/devtools/generate.js';
import { sha256 } from './sandbox-helpers.js';

const MiB = 1024 * 1024;
const TOKEN = 'tok-aihub-provider';
const dir = mkdtempSync(join(tmpdir(), 'batchup-aihub-provider-'));
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox({ token: TOKEN, processMsPerImage: 1, protocolOptions: { aihub: { partSize: MiB, resultsPageSize: 2, jobStepMs: 10 } } });
});
afterAll(async () => {
  await sb?.close();
  await rm(dir, { recursive: true, force: true });
});

let order = 0;
async function file(name: string, data: Buffer, sub = 'in'): Promise<Item> {
  const path = join(dir, sub, name);
  await mkdir(join(dir, sub), { recursive: true });
  await writeFile(path, data);
  const st = await stat(path);
  return { source: path, kind: 'file', path, order: order++, name, size: st.size, mtimeMs: st.mtimeMs, format: name.split('.').pop() };
}

function ctxFor(
  box: Sandbox,
  o: { kv?: Map<string, unknown>; signal?: AbortSignal; po?: Record<string, string>; batchId?: string; emit?: (e: BatchupEvent) => void } = {},
): TestContext<AihubOptions> {
  return providerContext({
    endpoint: `${box.url}/api`,
    token: TOKEN,
    options: aihubOptions(o.po ?? { batchName: 'unit' }, { batchId: o.batchId }),
    kv: o.kv,
    signal: o.signal,
    onEvent: o.emit,
    retry: { maxRetries: 10, baseMs: 5, capMs: 40 },
    cwd: dir,
  });
}

/** As the pipeline does: screen, plan, open, run the one batch. */
async function run(items: Item[], ctx: TestContext<AihubOptions>): Promise<ManifestEntry[]> {
  const refused = new Set(aihub.screen!(items, ctx.options).map((r) => r.item));
  const [plan] = aihub.plan({ items: items.filter((it) => !refused.has(it)), mode: 'auto', salt: '', batchId: ctx.options.batchId });
  return aihub.open(ctx).runBatch(plan!);
}

const inspect = async (box: Sandbox, id: string) => (await (await request(`${box.url}/_sandbox/batches/aihub-${id}`)).body.json()) as any;
const counters = async (box: Sandbox) => (await (await request(`${box.url}/_sandbox/aihub`)).body.json()) as any;

describe('upload', () => {
  it('PUTs small files, sends large ones in parts, IB-Context on every request; the batch holds exactly the bytes', async () => {
    const items = [
      await file('small.png', makePng(1)),
      await file('doc one.pdf', makePdf('one', { minBytes: 3000 })),
      await file('big.pdf', makePdf('big', { minBytes: 10 * MiB + 300_000 })),
    ];
    const before = await counters(sb);
    const entries = await run(items, ctxFor(sb, { po: { batchName: 'upload-1', ibContext: 'org-7' } }));
    expect(entries.map((e) => [e.name, e.status])).toEqual([
      ['small.png', 'uploaded'],
      ['doc one.pdf', 'uploaded'],
      ['big.pdf', 'uploaded'],
    ]);
    const id = entries[0]!.batchId!;
    expect(entries.every((e) => e.batchId === id && e.id === `${id}/${e.name}`)).toBe(true);
    expect(entries[1]!.url).toBe(`${sb.url}/api/v2/batches/${id}/files/doc%20one.pdf`);
    expect(entries.map((e) => (e.remote as any).upload)).toEqual(['put', 'put', 'multipart']);
    expect((entries[2]!.remote as any).parts).toBe(11);
    const b = await inspect(sb, id);
    expect(b.name).toBe('upload-1');
    expect(b.contexts).toEqual({ 'org-7': expect.any(Number) });
    for (const it of items) {
      const f = b.files.find((x: any) => x.name === it.name);
      const bytes = await readFile(it.path!);
      expect(f.sha256).toBe(sha256(bytes));
      expect(entries.find((e) => e.name === it.name)!.sha256).toBe(sha256(bytes));
    }
    const after = await counters(sb);
    expect(after.partsReceived - before.partsReceived).toBe(11);
    expect(after.partsOutOfOrder).toBe(before.partsOutOfOrder);
    expect(after.sessionsCommitted - before.sessionsCommitted).toBe(1);
  });

  it('refuses duplicate remote names (the later one) and unusable names — sends the rest; takes local files only', async () => {
    const a = await file('same.png', makePng(10), 'd1');
    const b = await file('same.png', makePng(11), 'd2');
    const bad = await file('x.png', makePng(12), 'd3');
    bad.name = 'no-extension';
    const ctx = ctxFor(sb, { po: { batchName: 'names' } });
    const refused = aihub.screen!([a, b, bad], ctx.options);
    expect(refused.map((r) => [r.item.source, r.rule])).toEqual([
      [b.source, 'duplicate-name'],
      [bad.source, 'bad-name'],
    ]);
    expect(refused[0]!.detail).toContain(a.source);
    expect(refused[0]!.detail).toContain('--name-template');
    expect(aihub.capabilities.inputs).toEqual(['file']);
    const entries = await run([a, b, bad], ctx);
    expect(entries.map((e) => [e.source, e.status])).toEqual([[a.source, 'uploaded']]);
    const files = (await inspect(sb, entries[0]!.batchId!)).files;
    expect(files.map((f: any) => f.sha256)).toEqual([sha256(await readFile(a.path!))]);
  });

  it('--batch-id adds to an existing batch; an unknown one fails the batch', async () => {
    const first = await run([await file('one.png', makePng(20))], ctxFor(sb, { po: { batchName: 'reuse' } }));
    const id = first[0]!.batchId!;
    const second = await run([await file('two.png', makePng(21))], ctxFor(sb, { batchId: id, po: {} }));
    expect(second[0]!.batchId).toBe(id);
    expect((await inspect(sb, id)).files.map((f: any) => f.name)).toEqual(['one.png', 'two.png']);
    await expect(run([await file('three.png', makePng(22))], ctxFor(sb, { batchId: '98765', po: {} }))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => aihubOptions({}, {})).toThrow(/--batch-name/);
  });
});

describe('resume', () => {
  it('an interrupted multipart upload resumes from the parts in the state, in the same batch', async () => {
    const it1 = await file('resume.pdf', makePdf('resume', { minBytes: 12 * MiB }));
    const kv = new Map<string, unknown>();
    const abort = new AbortController();
    const before = await counters(sb);
    const emit = (e: BatchupEvent) => {
      if (e.type === 'file-progress' && e.sent >= 4 * MiB) abort.abort();
    };
    const first = await run([it1], ctxFor(sb, { kv, signal: abort.signal, emit, po: { batchName: 'resume' } }));
    expect(first[0]!.status).toBe('failed');
    expect(first[0]!.code).toBe('INTERRUPTED');
    const saved = structuredClone([...kv.entries()].find(([k]) => k.startsWith('aihub:session:'))?.[1]) as any;
    expect(Object.keys(saved.parts).length).toBeGreaterThanOrEqual(4);
    expect(kv.get(batchKey(`${sb.url}/api`, undefined, 'resume'))).toBeDefined();

    const second = await run([it1], ctxFor(sb, { kv, po: { batchName: 'resume' } }));
    expect(second[0]!.status).toBe('uploaded');
    expect(second[0]!.batchId).toBe(first[0]!.batchId);
    expect((second[0]!.remote as any).resumed_parts).toBe(Object.keys(saved.parts).length);
    expect(second[0]!.sha256).toBe(sha256(await readFile(it1.path!)));
    const after = await counters(sb);
    // Every part once; the one in flight at the interruption may have arrived twice.
    const parts = Math.ceil(it1.size! / MiB);
    expect(after.partsReceived - before.partsReceived).toBeGreaterThanOrEqual(parts);
    expect(after.partsReceived - before.partsReceived).toBeLessThanOrEqual(parts + 1);
    expect(after.sessionsStarted - before.sessionsStarted).toBe(1);
    // The session is dropped once the file is settled; the batch stays the one for this name.
    expect([...kv.keys()]).toEqual([batchKey(`${sb.url}/api`, undefined, 'resume')]);
    const b = await inspect(sb, second[0]!.batchId!);
    expect(b.files[0].sha256).toBe(second[0]!.sha256);
  });

  it('a session the server no longer knows is started again', async () => {
    const it1 = await file('forgotten.pdf', makePdf('forgotten', { minBytes: 10 * MiB + 10 }));
    const kv = new Map<string, unknown>();
    const created = await run([await file('seed.png', makePng(30))], ctxFor(sb, { po: { batchName: 'forgotten' } }));
    const id = created[0]!.batchId!;
    kv.set(sessionKey(`${sb.url}/api`, id, it1), {
      url: `${sb.url}/api/v2/batches/multipart-upload/sessions/deadbeef`,
      id: 'deadbeef',
      partSize: MiB,
      size: it1.size,
      mtimeMs: it1.mtimeMs,
      parts: { 1: 1, 2: 2 },
    });
    const out = await run([it1], ctxFor(sb, { kv, batchId: id, po: {} }));
    expect(out[0]!.status, out[0]!.error).toBe('uploaded');
    expect((out[0]!.remote as any).resumed_parts).toBe(0);
  });
});

describe('faults', () => {
  it('through lost answers, resets and 5xx: one batch, every file once', async () => {
    const box = await startSandbox({
      token: TOKEN,
      processMsPerImage: 1,
      faults: { rate: 0.3, kinds: ['500', '503', 'reset', 'lost'], seed: 11, retryAfterSec: 0 },
      protocolOptions: { aihub: { partSize: MiB } },
    });
    try {
      const items = [await file('f-big.pdf', makePdf('fault-big', { minBytes: 10 * MiB + 5 * MiB }))];
      for (let i = 0; i < 12; i++) items.push(await file(`f-${i}.png`, makePng(100 + i)));
      const entries = await run(items, ctxFor(box, { po: { batchName: 'faulty' } }));
      expect(
        entries.every((e) => e.status === 'uploaded'),
        JSON.stringify(entries.filter((e) => e.status !== 'uploaded')),
      ).toBe(true);
      const all = await counters(box);
      expect(all.batches.filter((b: any) => b.name === 'faulty')).toHaveLength(1);
      const b = await inspect(box, entries[0]!.batchId!);
      expect(b.files).toHaveLength(13);
      for (const it of items) expect(b.files.find((f: any) => f.name === it.name).sha256).toBe(sha256(await readFile(it.path!)));
      const stats = (await (await request(`${box.url}/_sandbox/stats`)).body.json()) as any;
      expect(Object.values(stats.faultsInjected as Record<string, number>).reduce((a, n) => a + n, 0)).toBeGreaterThan(3);
    } finally {
      await box.close();
    }
  });
});

describe('app run', () => {
  it('--run-app: the run on the batch, results paged into the entries, the results file and the manifest runs', async () => {
    const items = [
      await file('r1.png', makePng(40)),
      await file('r2.pdf', makePdf('r2')),
      await file('r3.png', makePng(41)),
      await file('r4.png', makePng(42)),
      await file('r5.png', makePng(43)),
    ];
    const polls: BatchupEvent[] = [];
    const ctx = ctxFor(sb, {
      po: { batchName: 'run', runApp: 'Describe Files', resultsFile: 'results.json' },
      emit: (e) => e.type === 'poll' && polls.push(e),
    });
    const refused = new Set(aihub.screen!(items, ctx.options).map((r) => r.item));
    expect(refused.size).toBe(0);
    const [plan] = aihub.plan({ items, mode: 'auto', salt: '' });
    const providerRun = aihub.open(ctx);
    const entries = await providerRun.runBatch(plan!);
    expect(entries.every((e) => e.status === 'uploaded')).toBe(true);
    const r2 = entries.find((e) => e.name === 'r2.pdf')!;
    expect((r2.remote as any).run).toMatchObject({ status: 'COMPLETE', documents: [{ name: 'r2.pdf', detected_type: 'pdf', size: items[1]!.size }] });
    expect(polls.length).toBeGreaterThan(0);
    const extra = (await providerRun.finish!(entries)) as any;
    expect(extra.runs).toHaveLength(1);
    expect(extra.runs[0]).toMatchObject({ app: 'Describe Files', status: 'COMPLETE', files: 5, pages: 3, batchId: entries[0]!.batchId });
    const file1 = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
    expect(file1.files.map((f: any) => f.original_file_name)).toEqual(['r1.png', 'r2.pdf', 'r3.png', 'r4.png', 'r5.png']);
    expect(file1.pages).toBe(3);
  });
});
