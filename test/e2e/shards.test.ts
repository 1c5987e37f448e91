/**
 * --shard K/N and `manifest merge`: 8 shards as 8 parallel processes over 5,000 files against one
 * sandbox, merged, equal the manifest of one process over the same files (against a second
 * sandbox): same sources, the same sha256 and URL (path) for each, nothing twice, nothing
 * missing — and the shared sandbox stored each file exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BIN, cleanEnv, cli, readJson, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-shards-5e1f';
const FILES = 5000;
const SHARDS = 8;
let shared: ServeHandle;
let reference: ServeHandle;
let dir: string;

beforeAll(async () => {
  [shared, reference] = await Promise.all([serve(['--token', TOKEN, '--process-ms', '0']), serve(['--token', TOKEN, '--process-ms', '0'])]);
  dir = await tempDir('batchup-shards-');
  await writePngs(join(dir, 'media'), FILES, { seedBase: 900_000 });
}, 120_000);
afterAll(async () => {
  await Promise.all([shared?.stop(), reference?.stop()]);
});

const pathOf = (url: string) => new URL(url).pathname;

describe('--shard K/N and manifest merge', () => {
  it(`${SHARDS} parallel shards over ${FILES} files merge into the single-process manifest; each file stored once`, async () => {
    const env = (endpoint: string) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: endpoint });
    const t0 = Date.now();
    const shards = await Promise.all(
      Array.from({ length: SHARDS }, (_, i) => cli(['upload', 'media', '--shard', `${i + 1}/${SHARDS}`, '--quiet'], { cwd: dir, env: env(shared.bach) })),
    );
    for (const r of shards) expect(r.exitCode, r.stderr).toBe(0);
    const t1 = Date.now();
    const single = await cli(['upload', 'media', '--manifest', 'single.json', '--quiet'], { cwd: dir, env: env(reference.bach) });
    expect(single.exitCode, single.stderr).toBe(0);
    const t2 = Date.now();

    // Each shard wrote its own manifest (default name) and journal, stamped with its shard.
    const names = (await readdir(dir)).filter((f) => f.startsWith('batchup-manifest.shard-')).sort();
    expect(names).toHaveLength(SHARDS);
    const parts = await Promise.all(names.map((n) => readJson(join(dir, n))));
    const sizes = parts.map((m) => m.entries.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(FILES);
    for (const n of sizes) expect(n).toBeGreaterThan(FILES / SHARDS / 2); // a hash split, roughly even
    console.log(
      `shards: ${SHARDS} processes in ${((t1 - t0) / 1000).toFixed(1)} s (entries ${sizes.join(', ')}); one process ${((t2 - t1) / 1000).toFixed(1)} s`,
    );
    expect(new Set(parts.map((m) => `${m.shard.index}/${m.shard.total}`)).size).toBe(SHARDS);
    expect((await readdir(join(dir, '.batchup'))).length).toBe(SHARDS + 1);

    const merge = await cli(['manifest', 'merge', ...names, '-o', 'merged.json'], { cwd: dir, env: env(shared.bach) });
    expect(merge.exitCode, merge.stderr).toBe(0);
    expect(merge.stderr).toContain(`merged ${SHARDS} manifests: ${FILES} entries (${FILES} uploaded, 0 skipped, 0 rejected, 0 failed)`);
    const merged = await readJson(join(dir, 'merged.json'));
    const ref = await readJson(join(dir, 'single.json'));

    // Same inputs, in the same (scan) order, none twice, none missing.
    const sources = merged.entries.map((e: { source: string }) => e.source);
    expect(new Set(sources).size).toBe(FILES);
    expect(sources).toEqual(ref.entries.map((e: { source: string }) => e.source));
    const expected = (await readdir(join(dir, 'media'))).map((f) => join(dir, 'media', f)).sort();
    expect([...sources].sort()).toEqual(expected);
    // The same content and the same URL (up to the sandbox's origin) for each source.
    const key = (e: { source: string; sha256: string; url: string; status: string }) => `${e.source} ${e.status} ${e.sha256} ${pathOf(e.url)}`;
    expect(merged.entries.map(key)).toEqual(ref.entries.map(key));
    expect(new Set(merged.entries.map((e: { url: string }) => e.url)).size).toBe(FILES);
    expect(merged.summary).toMatchObject({ uploaded: FILES, skipped: 0, rejected: 0, failed: 0, bytes: ref.summary.bytes });

    // The shared sandbox stored each file once: 5,000 objects, each sha256 accepted once.
    const stats = await shared.stats();
    expect(stats.objects).toBe(FILES);
    const receipts = Object.values(stats.receipts as Record<string, number>);
    expect(receipts).toHaveLength(FILES);
    expect(receipts.every((n) => n === 1)).toBe(true);
  }, 600_000);

  it('merge refuses conflicts, listing each (exit 2): another endpoint, a source with another URL, a missing shard', async () => {
    const entry = (source: string, url: string) => ({ source, status: 'uploaded', url, provider: 'bach' });
    const manifest = (endpoint: string, shard: number, entries: unknown[]) => ({
      version: 1,
      tool: 'batchup',
      provider: 'bach',
      endpoint,
      createdAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:01:00.000Z',
      shard: { index: shard, total: 3 },
      entries,
    });
    const d = await tempDir('batchup-merge-');
    await writeFile(join(d, 'a.json'), JSON.stringify(manifest('https://api.one/vdr', 1, [entry('/x/a.png', 'https://cdn/a1')])));
    await writeFile(join(d, 'b.json'), JSON.stringify(manifest('https://api.two/vdr', 2, [entry('/x/a.png', 'https://cdn/a2')])));
    const r = await cli(['manifest', 'merge', 'a.json', 'b.json', '-o', 'out.json'], { cwd: d });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('cannot merge 2 manifests: 3 conflicts');
    expect(r.stderr).toMatch(/different endpoints: "https:\/\/api.one\/vdr" in a.json; "https:\/\/api.two\/vdr" in b.json/);
    expect(r.stderr).toContain('/x/a.png: done https://cdn/a1 in a.json, but done https://cdn/a2 in b.json');
    expect(r.stderr).toContain('shard missing: 3/3');
    await expect(readdir(d)).resolves.not.toContain('out.json');
    const missing = await cli(['manifest', 'merge', 'a.json', 'nope.json'], { cwd: d });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('nope.json: no such file');
  });

  it('every write of a shard manifest says which shard it is: one killed after its first batch still names its shard', async () => {
    const env = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: reference.bach });
    const args = ['upload', 'media', '--shard', '2/8', '--manifest', 'killed.json', '--batch-size', '20', '--concurrency', '1', '--quiet'];
    const run = execa('node', [BIN, ...args], { cwd: dir, env, extendEnv: false, reject: false });
    await waitFor(async () => (await readJson(join(dir, 'killed.json')).catch(() => undefined))?.summary?.uploaded > 0, 'a first batch in the manifest');
    run.kill('SIGKILL');
    await run;
    const m = await readJson(join(dir, 'killed.json'));
    expect(m.shard).toEqual({ index: 2, total: 8 });
    expect(m.entries.length).toBeLessThan(FILES / 8);
  });
});
