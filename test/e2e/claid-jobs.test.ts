/**
 * claid's batch jobs end to end: storage folders (bucket URIs in the manifest, --download skips
 * them with a note), a key without the storage scope (files and URLs never need the storage
 * list), a crash after the batch was submitted (the rerun polls the journaled id: one batch on
 * the server), PAUSED shown as waiting, a batch that ends ERROR or CANCELLED, faults.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { makePng, writePngs } from '../../src/devtools/generate.js';
import { BIN, cleanEnv, cli, readJson, sandboxes, tempDir, type ServeHandle } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'tok-claid-jobs-3b8f';
const env = (sb: ServeHandle) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sb.url, BATCHUP_PROVIDER: 'claid' });
const stats = async (sb: ServeHandle) => (await sb.stats()) as any;

const start = sandboxes(['--token', TOKEN, '--process-ms', '1', '--rate-limit', '100;w=1']);

/** `n` images uploaded with bach: a URL list (its manifest). */
async function urlList(sb: ServeHandle, dir: string, n: number): Promise<string> {
  await writePngs(join(dir, 'src'), n, { seedBase: 7000 });
  const manifest = join(dir, 'bach.json');
  const r = await cli(['upload', join(dir, 'src'), '--provider', 'bach', '--manifest', manifest], {
    env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: `${sb.url}/api/vdr` }),
  });
  expect(r.exitCode, r.stderr).toBe(0);
  return manifest;
}

describe('storage folders', () => {
  it('a folder (recursive) into a storage destination: bucket URIs in the manifest, --download skips them with a note', async () => {
    const sb = await start();
    const root = join(sb.dataDir, 'claid', 'storages', 'shop');
    await mkdir(join(root, 'in', 'sub'), { recursive: true });
    await writeFile(join(root, 'in', 'a.png'), makePng(1, { width: 40, height: 20 }));
    await writeFile(join(root, 'in', 'sub', 'b.png'), makePng(2, { width: 20, height: 40 }));
    const dir = await tempDir('batchup-claid-storage-');
    const args = ['upload', 'storage://shop/in/', '--recursive', '--operations', '{"resizing":{"width":10}}', '--output', 'storage://shop/out/'];
    const r = await cli([...args, '--manifest', join(dir, 'm.json'), '--download', join(dir, 'dl')], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.map((e: any) => [e.source, e.status, e.url, e.remote.output_object.height])).toEqual([
      ['storage://shop/in/!/a.png', 'uploaded', 's3://shop/out/a.jpeg', 5],
      ['storage://shop/in/!/sub/b.png', 'uploaded', 's3://shop/out/sub/b.jpeg', 20],
    ]);
    expect(m.entries.every((e: any) => e.download === undefined && e.expiresAt === undefined)).toBe(true);
    expect(r.stderr).toMatch(/s3:\/\/shop\/out\/a\.jpeg is not a download link \(a bucket URI\): not downloaded/);
    expect((await stats(sb)).requests['claid.storages']).toBe(1);

    const unknown = await cli(['upload', 'storage://nowhere/in/', '--operations', '{}', '--manifest', join(dir, 'm2.json')], { env: env(sb) });
    expect(unknown.exitCode).toBe(4);
    expect(unknown.stderr).toMatch(/no storage named 'nowhere' is connected to this API key \(connected: shop\)/);
  });

  it('a key without the storage scope: files and URLs never ask for the storage list; a folder is refused (exit 5)', async () => {
    const sb = await start(['--claid-scopes', 'image_editing']);
    const dir = await tempDir('batchup-claid-scope-');
    await writePngs(join(dir, 'in'), 2);
    const urls = await urlList(sb, dir, 2);
    const files = await cli(['upload', join(dir, 'in'), '--operations', '{}', '--manifest', join(dir, 'f.json')], { env: env(sb) });
    expect(files.exitCode, files.stderr).toBe(0);
    const byUrl = await cli(['upload', '--urls', urls, '--operations', '{}', '--manifest', join(dir, 'u.json')], { env: env(sb) });
    expect(byUrl.exitCode, byUrl.stderr).toBe(0);
    expect((await stats(sb)).requests['claid.storages']).toBeUndefined();
    const folder = await cli(['upload', 'storage://shop/in/', '--operations', '{}', '--manifest', join(dir, 's.json')], { env: env(sb) });
    expect(folder.exitCode).toBe(5);
    expect(folder.stderr).toMatch(/HTTP 403.*does the API key have the storage scope/);
  });
});

describe('a crash after the batch was submitted', () => {
  it('the rerun polls the journaled id: one batch on the server, every URL edited', async () => {
    // Batches wait 4 s before they run: the kill lands while the first run is polling.
    const sb = await start(['--claid-queue-ms', '2000']);
    const dir = await tempDir('batchup-claid-crash-');
    const urls = await urlList(sb, dir, 5);
    const args = ['upload', '--urls', urls, '--operations', '{"resizing":{"width":30}}', '--manifest', join(dir, 'm.json')];
    const first = execa('node', [BIN, ...args, '--json'], { env: env(sb), extendEnv: false, reject: false });
    let out = '';
    first.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    // batch-submitted comes once the id the server assigned is journaled.
    await waitFor(() => out.includes('"type":"batch-submitted"') || first.exitCode !== null, 'the batch id to be journaled');
    first.kill('SIGKILL');
    await first;
    const r = await cli(args, { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.filter((e: any) => e.status === 'uploaded')).toHaveLength(5);
    expect(new Set(m.entries.map((e: any) => e.id))).toEqual(new Set(['1']));
    expect((await stats(sb)).claid.batches).toBe(1);
  });

  it('killed before the answer came back: the rerun cannot look the batch up and submits it again (documented)', async () => {
    // Every answer comes 1.5 s after the server handled the request.
    const sb = await start(['--fault-rate', '1', '--faults', 'slow', '--slow-ms', '1500', '--seed', '5']);
    const dir = await tempDir('batchup-claid-lost-');
    const urls = await urlList(sb, dir, 3);
    const args = ['upload', '--urls', urls, '--operations', '{}', '--manifest', join(dir, 'm.json')];
    const first = execa('node', [BIN, ...args], { env: env(sb), extendEnv: false, reject: false });
    await waitFor(async () => (await stats(sb)).claid.batches === 1, 'the batch to be created on the server');
    first.kill('SIGKILL');
    await first;
    const r = await cli(args, { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await readJson(join(dir, 'm.json'))).entries.every((e: any) => e.status === 'uploaded' && e.id === '2')).toBe(true);
    expect((await stats(sb)).claid.batches).toBe(2);
  });
});

describe('how a batch ends', () => {
  it('PAUSED is shown as waiting, never as a failure', async () => {
    const sb = await start(['--claid-pause-ms', '3000', '--claid-queue-ms', '100']);
    const dir = await tempDir('batchup-claid-paused-');
    const urls = await urlList(sb, dir, 2);
    const r = await cli(['upload', '--urls', urls, '--operations', '{}', '--manifest', join(dir, 'm.json'), '--json'], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const polls = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'poll')
      .map((e) => e.status);
    expect(polls).toContain('WAITING');
    expect(polls).not.toContain('PAUSED');
    expect(polls[polls.length - 1]).toBe('DONE');
  });

  it('--no-check-urls: a dead URL reaches the server, the batch ends ERROR, each input fails with its text', async () => {
    const sb = await start();
    const dir = await tempDir('batchup-claid-error-');
    const urls = (await readJson(await urlList(sb, dir, 2))).entries.map((e: any) => e.url);
    const dead = `${sb.url}/cdn/${'f'.repeat(64)}.png`;
    await writeFile(join(dir, 'urls.txt'), [...urls, dead].join('\n'));
    const r = await cli(['upload', '--urls', join(dir, 'urls.txt'), '--no-check-urls', '--operations', '{}', '--manifest', join(dir, 'm.json')], {
      env: env(sb),
    });
    expect(r.exitCode, r.stderr).toBe(4);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries).toHaveLength(3);
    for (const e of m.entries) {
      expect(e).toMatchObject({ status: 'failed', code: 'REMOTE' });
      expect(e.error).toContain(`: batch 1 failed on the server: Failed to fetch the input image ${dead}: HTTP 404.`);
    }
  });

  it('CANCELLED on the server: each input fails with code CANCELLED', async () => {
    const sb = await start(['--claid-queue-ms', '5000']);
    const dir = await tempDir('batchup-claid-cancel-');
    const urls = await urlList(sb, dir, 2);
    const run = execa('node', [BIN, 'upload', '--urls', urls, '--operations', '{}', '--manifest', join(dir, 'm.json')], {
      env: env(sb),
      extendEnv: false,
      reject: false,
    });
    await waitFor(async () => (await stats(sb)).claid.batches === 1, 'the batch to be submitted');
    expect((await fetch(`${sb.url}/_sandbox/claid/batches/1/cancel`, { method: 'POST' })).status).toBe(200);
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(4);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.map((e: any) => [e.status, e.code])).toEqual([
      ['failed', 'CANCELLED'],
      ['failed', 'CANCELLED'],
    ]);
  });

  it('faults on a quarter of the API requests (5xx, 429, resets, lost answers): every URL edited', async () => {
    const sb = await start(['--fault-rate', '0.25', '--faults', '500,503,429,reset,lost', '--seed', '11', '--retry-after', '0']);
    const dir = await tempDir('batchup-claid-faults-');
    const urls = await urlList(sb, dir, 12);
    const r = await cli(['upload', '--urls', urls, '--operations', '{}', '--manifest', join(dir, 'm.json'), '--batch-size', '4'], { env: env(sb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const m = await readJson(join(dir, 'm.json'));
    expect(m.entries.filter((e: any) => e.status === 'uploaded')).toHaveLength(12);
    expect(Object.values((await stats(sb)).faultsInjected).reduce((a: number, b: any) => a + b, 0)).toBeGreaterThan(0);
  });
});
