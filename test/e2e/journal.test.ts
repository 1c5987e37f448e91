/**
 * The journal end to end: nightly incremental runs that only stat, resume after kill -9, URL
 * refresh before expiry, and reporting inputs that are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, cleanEnv, cli, readJson, serve, sha256File, tempDir, type ServeHandle } from '../helpers/cli.js';
import { makePng, writePngs } from '../../src/devtools/generate.js';
import { base64Length } from '../../src/core/bodies.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'tok-journal-1e2f';
const DAY = 86_400_000;
let sandbox: ServeHandle;
const env = (extra: Record<string, string> = {}) => cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: sandbox.bach, ...extra });
const uploadRequests = async () => {
  const r = (await sandbox.stats()).requests;
  return (r['bach.submit'] ?? 0) + (r['bach.submit-with-files'] ?? 0);
};

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '0']);
});
afterAll(async () => {
  await sandbox?.stop();
});

describe('nightly incremental runs', () => {
  it('an unchanged 10,000-file tree: no upload requests, no file opened; 10 changed files re-upload exactly those', async () => {
    const dir = await tempDir();
    const tree = join(dir, 'tree');
    const paths = await writePngs(tree, 10_000, { seedBase: 200_000 });
    const manifest = join(dir, 'nightly.json');
    const first = await cli(['upload', tree, '--manifest', manifest, '--concurrency', '8'], { env: env() });
    expect(first.exitCode, first.stderr).toBe(0);

    const opensOut = join(dir, 'opens.json');
    const watch = { NODE_OPTIONS: `--import=${join(ROOT, 'test/helpers/count-opens.mjs')}`, BATCHUP_TEST_WATCH_DIR: tree, BATCHUP_TEST_OPENS_OUT: opensOut };
    const before = await uploadRequests();
    const second = await cli(['upload', tree, '--manifest', manifest], { env: env(watch) });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/uploaded 0, skipped 10000, rejected 0, failed 0/);
    expect(await uploadRequests()).toBe(before);
    expect(JSON.parse(await readFile(opensOut, 'utf8'))).toEqual([]);
    const m2 = await readJson(manifest);
    expect(m2.entries).toHaveLength(10_000);
    expect(m2.entries.every((e: any) => e.status === 'skipped' && e.url)).toBe(true);

    // 10 files get new content; 10 others are only touched (mtime moves, content does not).
    const changed = paths.slice(100, 110);
    const touched = paths.slice(500, 510);
    for (const [i, p] of changed.entries()) await writeFile(p, makePng(900_000 + i));
    for (const p of touched) await utimes(p, new Date(), new Date(Date.now() + 60_000));
    const third = await cli(['upload', tree, '--manifest', manifest, '--verbose'], { env: env(watch) });
    expect(third.exitCode, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/uploaded 10, skipped 9990, rejected 0, failed 0/);
    const m3 = await readJson(manifest);
    const uploaded = m3.entries.filter((e: any) => e.status === 'uploaded');
    expect(uploaded.map((e: any) => e.source).sort()).toEqual([...changed].sort());
    const stats = await sandbox.stats();
    for (const e of uploaded) {
      expect(e.sha256).toBe(await sha256File(e.source));
      expect(stats.receipts[e.sha256]).toBe(1);
    }
    // Only the changed (validated + sent) and touched (hashed) files were opened.
    const opened = new Set<string>(JSON.parse(await readFile(opensOut, 'utf8')));
    expect([...opened].sort()).toEqual([...changed, ...touched].sort());
  });
});

describe('URL refresh and inputs that are gone', () => {
  it('re-uploads when URLs come within --refresh-before of expiry (clock via BATCHUP_NOW)', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 4, { seedBase: 300_000 });
    const m = join(dir, 'm.json');
    expect((await cli(['upload', join(dir, 'a'), '--manifest', m], { env: env() })).exitCode).toBe(0);
    const firstUrls = (await readJson(m)).entries.map((e: any) => e.expiresAt);

    const at = (days: number) => ({ BATCHUP_NOW: String(Date.now() + days * DAY) });
    const r20 = await cli(['upload', join(dir, 'a'), '--manifest', m], { env: env(at(20)) });
    expect(r20.stderr).toMatch(/uploaded 0, skipped 4/);
    // --json still gives each skipped input a `skip` event and a `result` per entry, as the
    // manifest has it (without --json or --verbose core decodes no entry for its events).
    const json = await cli(['upload', join(dir, 'a'), '--manifest', m, '--json'], { env: env(at(20)) });
    const events = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const entries = (await readJson(m)).entries;
    expect(events.filter((e: any) => e.type === 'skip').map((e: any) => e.source)).toEqual(entries.map((e: any) => e.source));
    expect(events.filter((e: any) => e.type === 'result').map((e: any) => e.entry)).toEqual(entries);
    const r21 = await cli(['upload', join(dir, 'a'), '--manifest', m, '--refresh-before', '10d'], { env: env(at(21)) });
    expect(r21.stderr).toMatch(/uploaded 4, skipped 0/);
    const after = (await readJson(m)).entries;
    // Fresh expiry, counted from the (shifted) upload time.
    after.forEach((e: any, i: number) => expect(Date.parse(e.expiresAt)).toBeGreaterThan(Date.parse(firstUrls[i]) + 20 * DAY));
    const r28 = await cli(['upload', join(dir, 'a'), '--manifest', m], { env: env(at(21 + 28)) });
    expect(r28.stderr).toMatch(/uploaded 4, skipped 0/);
  });

  it('reports deleted inputs, keeps them in the manifest, and drops them with --prune; --force re-uploads', async () => {
    const dir = await tempDir();
    const paths = await writePngs(join(dir, 'a'), 3, { seedBase: 310_000 });
    const m = join(dir, 'm.json');
    await cli(['upload', join(dir, 'a'), '--manifest', m], { env: env() });
    await rm(paths[0]!);
    const kept = await cli(['upload', join(dir, 'a'), '--manifest', m], { env: env() });
    expect(kept.exitCode).toBe(0);
    expect(kept.stderr).toContain(`gone ${paths[0]}`);
    expect((await readJson(m)).entries.map((e: any) => e.source)).toContain(paths[0]);
    const pruned = await cli(['upload', join(dir, 'a'), '--manifest', m, '--prune'], { env: env() });
    expect(pruned.stderr).toMatch(/dropped from the manifest/);
    expect((await readJson(m)).entries.map((e: any) => e.source)).toEqual(paths.slice(1));
    const forced = await cli(['upload', join(dir, 'a'), '--manifest', m, '--force'], { env: env() });
    expect(forced.stderr).toMatch(/uploaded 2, skipped 0/);
  });

  it('a second run on the same state waits for nobody: the lock refuses it with a clear message', async () => {
    const dir = await tempDir();
    await writePngs(join(dir, 'a'), 400, { seedBase: 320_000 });
    const m = join(dir, 'm.json');
    const slow = await serve(['--token', TOKEN, '--process-ms', '20']);
    try {
      const e = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: slow.bach });
      const one = execa('node', [BIN, 'upload', join(dir, 'a'), '--manifest', m], { env: e, extendEnv: false, reject: false });
      // Once the first run talks to the server it holds the lock (taken before anything is sent).
      await waitFor(async () => Object.values((await slow.stats()).requests).some((n) => n > 0), 'the first run to start uploading');
      const two = await cli(['upload', join(dir, 'a'), '--manifest', m], { env: e });
      expect(two.exitCode).toBe(2);
      expect(two.stderr).toMatch(/another batchup run \(pid \d+/);
      expect((await one).exitCode).toBe(0);
    } finally {
      await slow.stop();
    }
  });
});

describe('crash safety', () => {
  it('Ctrl-C stops gracefully with the interrupted code and a valid manifest; the rerun finishes the job', async () => {
    const slow = await serve(['--token', TOKEN, '--process-ms', '15']);
    try {
      const dir = await tempDir();
      const paths = await writePngs(join(dir, 'a'), 600, { seedBase: 330_000 });
      const m = join(dir, 'm.json');
      const e = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: slow.bach });
      const run = execa('node', [BIN, 'upload', join(dir, 'a'), '--manifest', m, '--json'], { env: e, extendEnv: false, reject: false });
      // Interrupt once the server is processing (however slow the machine is to get there).
      await new Promise<void>((resolve) => {
        run.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('"type":"poll"')) resolve();
        });
      });
      run.kill('SIGINT');
      const r = await run;
      expect(r.exitCode).toBe(130);
      expect(r.stderr).toMatch(/interrupt/i);
      const partial = await readJson(m);
      expect(partial.summary.interrupted).toBe(true);
      const again = await cli(['upload', join(dir, 'a'), '--manifest', m], { env: e });
      expect(again.exitCode, again.stderr).toBe(0);
      const stats = await slow.stats();
      for (const p of paths) expect(stats.receipts[await sha256File(p)]).toBe(1);
    } finally {
      await slow.stop();
    }
  });

  it('kill -9 at 10 moments: every rerun completes, nothing stored twice, re-sent bytes bounded, manifest always valid JSON', async () => {
    const slow = await serve(['--token', TOKEN, '--process-ms', '3']);
    const dir = await tempDir();
    const paths = await writePngs(join(dir, 'set'), 1000, { seedBase: 400_000 });
    const big = join(dir, 'set', 'zz-large.png');
    await writeFile(big, makePng(400_999, { minBytes: 9 * 1024 * 1024 }));
    paths.push(big);
    const m = join(dir, 'm.json');
    const e = cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: slow.bach });
    const args = [BIN, 'upload', join(dir, 'set'), '--manifest', m, '--quiet'];

    // Read the manifest continuously while runs are killed: it must always parse.
    let reads = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (existsSync(m)) {
          const text = await readFile(m, 'utf8').catch(() => undefined);
          if (text !== undefined) {
            JSON.parse(text);
            reads++;
          }
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let kill = 0; kill < 10; kill++) {
      const run = execa('node', args, { env: e, extendEnv: false, reject: false });
      await new Promise((r) => setTimeout(r, 300 + rnd() * 2500));
      run.kill('SIGKILL');
      await run;
    }
    const final = await execa('node', args, { env: e, extendEnv: false, reject: false });
    watching = false;
    await watcher;
    expect(final.exitCode, final.stderr).toBe(0);
    expect(reads).toBeGreaterThan(0);

    const manifest = await readJson(m);
    expect(manifest.entries).toHaveLength(1001);
    expect(manifest.entries.every((x: any) => x.status === 'uploaded' || x.status === 'skipped')).toBe(true);
    const stats = await slow.stats();
    for (const p of paths) expect(stats.receipts[await sha256File(p)], p).toBe(1);

    // What was sent more than once is at most what could be in flight at each kill: 4 batch
    // bodies (the largest holds the 9 MB file) plus request heads, per kill.
    const sizes = await Promise.all(paths.map(async (p) => (await readFile(p)).length));
    const payload = sizes.reduce((n, s) => n + base64Length(s) + 64, 0);
    const biggestBatch = base64Length(9 * 1024 * 1024 + 4096) + 300 * 700;
    const requests = Object.values(stats.requests).reduce((a, b) => a + b, 0);
    expect(stats.bytesReceived - payload).toBeLessThanOrEqual(10 * (biggestBatch + 3 * 300 * 700) + requests * 2048);
    await slow.stop();
  });
});
