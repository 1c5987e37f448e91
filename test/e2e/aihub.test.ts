/**
 * aihub end to end: the built CLI against `batchup serve`. 40 documents and images of mixed sizes
 * (four of 25 MB) into one batch, multipart for those over 10 MiB; an app run whose results are
 * paged; the batch commands (list, files, rm with its job) on the same server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { makeDocx, makePdf, writeFileMkdir } from '../../src/devtools/documents.js';
import { makePng } from '../../src/devtools/generate.js';

const MiB = 1024 * 1024;
const MB25 = 25 * 1000 * 1000;
const TOKEN = 'tok-aihub-e2e-77c1';
let sandbox: ServeHandle;
let dir: string;
const sizes = new Map<string, number>();
const hashes = new Map<string, string>();

const env = (extra: Record<string, string> = {}) =>
  cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_PROVIDER: 'aihub', BATCHUP_ENDPOINT: `${sandbox.url}/api`, ...extra });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const inspect = async (id: string) => (await (await fetch(`${sandbox.url}/_sandbox/batches/aihub-${id}`)).json()) as any;
const aihubCounters = async () => (await (await fetch(`${sandbox.url}/_sandbox/aihub`)).json()) as any;
const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

async function put(name: string, data: Buffer) {
  await writeFileMkdir(join(dir, 'in', name), data);
  sizes.set(name, data.length);
  hashes.set(name, sha(data));
}

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '1']);
  dir = await tempDir('batchup-aihub-e2e-');
  // 4 × 25 MB (multipart: 3 parts each), the 10 MiB boundary on both sides, 34 small ones.
  await put('scan-a.pdf', makePdf('a', { minBytes: MB25 }));
  await put('scan-b.pdf', makePdf('b', { minBytes: MB25 }));
  await put('poster.png', makePng(9001, { minBytes: MB25 }));
  await put('handbook.docx', makeDocx('handbook', { mediaBytes: MB25 }));
  const exact = makePdf('exact', { minBytes: 10 * MiB });
  await put('exactly-10mib.pdf', Buffer.concat([exact.subarray(0, 9), Buffer.alloc(10 * MiB - exact.length, 0x20), exact.subarray(9)]));
  await put('just-over.pdf', makePdf('over', { minBytes: 10 * MiB + 64 * 1024 }));
  for (let i = 0; i < 12; i++) await put(`invoice ${i}.pdf`, makePdf(`inv-${i}`, { minBytes: 2000 + i * 40_000 }));
  for (let i = 0; i < 12; i++) await put(`page-${i}.png`, makePng(5000 + i, i % 3 ? {} : { minBytes: 300_000 }));
  for (let i = 0; i < 6; i++) await put(`letter-${i}.docx`, makeDocx(`letter-${i}`));
  await put('receipt (été).jpg', await readFile(join(process.cwd(), 'fixtures/images/photo.jpg')));
  await put('fax.tiff', await readFile(join(process.cwd(), 'fixtures/images/scan.tiff')));
  await put('notes #1.pdf', makePdf('notes'));
  await put('cover.png', makePng(5100));
  expect(sizes.size).toBe(40);
}, 120_000);

afterAll(async () => {
  await sandbox?.stop();
});

describe('aihub: 40 files into one batch', () => {
  let manifest: any;
  let batchId: string;

  it('uploads all 40 byte-identical; multipart for the ones over 10 MiB; IB-Context everywhere; the run results are paged', async () => {
    const before = await sandbox.stats();
    const m = join(dir, 'manifest.json');
    const r = await cli(
      [
        'upload',
        join(dir, 'in'),
        '--batch-name',
        'e2e forty',
        '--ib-context',
        'org-e2e',
        '--manifest',
        m,
        '--run-app',
        'Describe Files',
        '--results',
        join(dir, 'results.json'),
      ],
      { env: env() },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    manifest = await readJson(m);
    expect(manifest.provider).toBe('aihub');
    expect(manifest.entries).toHaveLength(40);
    batchId = manifest.entries[0].batchId;
    for (const e of manifest.entries) {
      const name = e.source.split('/').pop();
      expect(e.status, e.error).toBe('uploaded');
      expect(e.batchId).toBe(batchId);
      expect(e.name).toBe(name);
      expect(e.size).toBe(sizes.get(name));
      expect(e.sha256).toBe(hashes.get(name));
      expect(e.id).toBe(`${batchId}/${name}`);
      expect(e.url).toBe(`${sandbox.url}/api/v2/batches/${batchId}/files/${encodeURIComponent(name)}`);
      expect(e.remote.upload).toBe(e.size > 10 * MiB ? 'multipart' : 'put');
      expect(e.remote.run.documents).toEqual([{ name, size: e.size, detected_type: expect.any(String) }]);
    }

    // The sandbox's batch holds exactly those files, byte-identical (content-addressed objects).
    const b = await inspect(batchId);
    expect(b.name).toBe('e2e forty');
    expect(b.files.map((f: any) => f.name).sort()).toEqual([...sizes.keys()].sort());
    for (const f of b.files) {
      expect(f.sha256).toBe(hashes.get(f.name));
      const onDisk = await readFile(join(sandbox.dataDir, 'objects', f.sha256.slice(0, 2), f.sha256));
      expect(sha(onDisk)).toBe(f.sha256);
    }
    expect(b.contexts).toEqual({ 'org-e2e': expect.any(Number) });

    // Multipart for exactly the files over 10 MiB, parts in order.
    const big = [...sizes.values()].filter((s) => s > 10 * MiB);
    expect(big).toHaveLength(5);
    const stats = await sandbox.stats();
    const delta = (k: string) => (stats.requests[k] ?? 0) - (before.requests[k] ?? 0);
    expect(delta('aihub.multipart.start')).toBe(5);
    expect(delta('aihub.files.put')).toBe(35);
    expect(delta('aihub.multipart.part')).toBe(big.reduce((n, s) => n + Math.ceil(s / (10 * MiB)), 0));
    expect(
      b.files
        .filter((f: any) => f.via === 'multipart')
        .map((f: any) => f.size)
        .sort(),
    ).toEqual(big.sort());
    const counters = await aihubCounters();
    expect(counters.partsOutOfOrder).toBe(0);
    expect(counters.open_sessions).toBe(0);

    // The app run: 40 files reported over 4 pages of 10.
    const results = await readJson(join(dir, 'results.json'));
    expect(results.run.status).toBe('COMPLETE');
    expect(results.pages).toBe(4);
    expect(results.files.map((f: any) => f.original_file_name).sort()).toEqual([...sizes.keys()].sort());
    const byName = new Map(results.files.map((f: any) => [f.original_file_name, f.documents[0].detected_type]));
    expect(byName.get('scan-a.pdf')).toBe('pdf');
    expect(byName.get('handbook.docx')).toBe('docx');
    expect(byName.get('poster.png')).toBe('png');
    expect(delta('aihub.runs.results')).toBe(4);
  });

  it('batches list / show / files (paged) see it', async () => {
    const list = await cli(['batches', 'list', '--json'], { env: env() });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(lines(list.stdout)[0].batches.some((x: any) => String(x.id) === batchId && x.name === 'e2e forty')).toBe(true);
    const show = await cli(['batches', 'show', batchId], { env: env() });
    expect(show.stdout).toContain('name: e2e forty');
    // One page at a time with --page-size / --start-token.
    const seen: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await cli(['batches', 'files', batchId, '--page-size', '15', '--json', ...(token ? ['--start-token', token] : [])], { env: env() });
      const page = lines(r.stdout)[0];
      seen.push(...page.nodes.map((n: any) => n.name));
      if (!page.has_more) break;
      token = page.next_page_token;
    }
    expect(seen.sort()).toEqual([...sizes.keys()].sort());
    const human = await cli(['batches', 'files', batchId], { env: env() });
    expect(human.stdout).toMatch(/40 files, 1\d\d\.\d MB/);
  });
});

describe('aihub: delete and runs', () => {
  it('rm --file deletes one file; rm deletes the batch, watching the job; list shows it gone', async () => {
    const small = join(dir, 'in', 'cover.png');
    const m = join(dir, 'del.json');
    const up = await cli(['upload', small, join(dir, 'in', 'page-1.png'), '--batch-name', 'to delete', '--manifest', m], { env: env() });
    expect(up.exitCode, up.stderr).toBe(0);
    const id = (await readJson(m)).entries[0].batchId;

    const one = await cli(['batches', 'rm', id, '--file', 'cover.png'], { env: env() });
    expect(one.exitCode, one.stderr).toBe(0);
    expect(one.stdout).toContain(`deleted cover.png from batch ${id}`);
    expect(one.stderr).toMatch(/job (PENDING|RUNNING|COMPLETE)/);
    expect((await inspect(id)).files.map((f: any) => f.name)).toEqual(['page-1.png']);

    const ghost = await cli(['batches', 'rm', id, '--file', 'ghost.png'], { env: env() });
    expect(ghost.exitCode).toBe(6);
    expect(ghost.stdout).toMatch(/ended FAILED: File ghost.png not found/);

    const rm = await cli(['batches', 'rm', id, '--json'], { env: env() });
    expect(rm.exitCode, rm.stderr).toBe(0);
    expect(lines(rm.stdout)).toEqual([expect.objectContaining({ type: 'deleted', batch_id: id, state: 'COMPLETE' })]);
    const list = await cli(['batches', 'list', '--json'], { env: env() });
    expect(lines(list.stdout)[0].batches.some((x: any) => String(x.id) === id)).toBe(false);
    const show = await cli(['batches', 'show', id], { env: env() });
    expect(show.exitCode).toBe(6);
    expect(show.stderr).toContain(`batch ${id} does not exist`);
  });

  it('runs start / show / results page the results; a run on an empty batch fails with exit 6', async () => {
    const up = await cli(['upload', join(dir, 'in'), '--include', 'page-*.png', '--batch-name', 'run me', '--manifest', join(dir, 'run.json')], { env: env() });
    expect(up.exitCode, up.stderr).toBe(0);
    const id = (await readJson(join(dir, 'run.json'))).entries[0].batchId;
    const start = await cli(['runs', 'start', 'Describe Files', '--batch-id', id, '--results', join(dir, 'run-results.json')], { env: env() });
    expect(start.exitCode, start.stderr).toBe(0);
    expect(start.stderr).toMatch(/RUNNING|COMPLETE/);
    const res = await readJson(join(dir, 'run-results.json'));
    expect(res.files).toHaveLength(12);
    expect(res.pages).toBe(2);
    const again = await cli(['runs', 'results', res.run.id, '--file-offset', '10', '--json'], { env: env() });
    expect(lines(again.stdout)[0].files.map((f: any) => f.original_file_name)).toEqual(res.files.slice(10).map((f: any) => f.original_file_name));
    const show = await cli(['runs', 'show', res.run.id, '--json'], { env: env() });
    expect(lines(show.stdout)[0].run).toMatchObject({ id: res.run.id, status: 'COMPLETE' });

    const empty = await cli(['batches', 'create', 'empty', '--json'], { env: env() });
    const emptyId = lines(empty.stdout)[0].id;
    const failed = await cli(['runs', 'start', 'Describe Files', '--batch-id', emptyId], { env: env() });
    expect(failed.exitCode).toBe(6);
    expect(failed.stderr).toContain('The batch has no files.');
  });

  it('validation: names and types', async () => {
    const bad = await tempDir('batchup-aihub-bad-');
    await writeFileMkdir(join(bad, 'notes.txt'), Buffer.from('hello'));
    await writeFileMkdir(join(bad, 'a', 'same.pdf'), makePdf('same-a'));
    await writeFileMkdir(join(bad, 'b', 'same.pdf'), makePdf('same-b'));
    await writeFileMkdir(join(bad, 'fake.docx'), Buffer.from('PK\x03\x04 not really'));
    const m = join(bad, 'm.json');
    const r = await cli(['upload', bad, '--batch-name', 'bad', '--manifest', m], { env: env() });
    expect(r.exitCode).toBe(3);
    const entries = (await readJson(m)).entries;
    const rule = (suffix: string) => entries.find((e: any) => e.source.endsWith(suffix))?.rule ?? 'ok';
    expect(rule('notes.txt')).toBe('unsupported-type');
    expect(rule('fake.docx')).toMatch(/corrupt|disguised/);
    expect(rule('a/same.pdf')).toBe('ok');
    expect(rule('b/same.pdf')).toBe('duplicate-name');
    expect(r.stderr).toContain('duplicate-name');
    const size = (await stat(join(bad, 'a', 'same.pdf'))).size;
    expect(entries.find((e: any) => e.source.endsWith('a/same.pdf')).size).toBe(size);
  });
});
